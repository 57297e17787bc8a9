module argburst

go 1.22
