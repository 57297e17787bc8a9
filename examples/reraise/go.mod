module example.com/reraise

go 1.22
