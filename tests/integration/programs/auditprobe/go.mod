module auditprobe

go 1.22
