module checkpoint

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/coreos/go-systemd/v22 v22.7.0
)

require golang.org/x/sys v0.1.0 // indirect
