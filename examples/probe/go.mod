module seccompgen.example/probe

go 1.22
