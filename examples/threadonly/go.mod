module example.com/threadonly

go 1.22
