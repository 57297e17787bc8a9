module example.com/rarepaths

go 1.22
