module getppidloop

go 1.22
