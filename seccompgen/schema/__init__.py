"""Profile validation: the OCI runtime-spec schema plus semantic checks."""

from seccompgen.schema.validate import (
    SECCOMP_POINTER,
    Validation,
    check_profile_data,
    check_profile_file,
    validate_profile_data,
    validate_profile_file,
)

__all__ = [
    "SECCOMP_POINTER",
    "Validation",
    "check_profile_data",
    "check_profile_file",
    "validate_profile_data",
    "validate_profile_file",
]
