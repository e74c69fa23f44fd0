module checkpoint

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/skip2/go-qrcode v0.0.0-20200617195104-da1b6568686e
	periph.io/x/conn/v3 v3.7.3
	periph.io/x/host/v3 v3.8.5
)

require github.com/jonboulle/clockwork v0.5.0 // indirect
