module example.invalid/echoserver

go 1.22
