module mkdirprobe

go 1.22
