module weir.local/bench/taskd_go

go 1.19
