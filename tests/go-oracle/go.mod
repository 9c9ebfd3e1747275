module rampart/tests/go-oracle

go 1.19
