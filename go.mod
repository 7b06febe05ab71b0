module github.com/evote/evote

go 1.26.8
