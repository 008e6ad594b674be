module weir.local/bench/go_hello

go 1.19
