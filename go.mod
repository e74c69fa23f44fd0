module checkpoint

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/makiuchi-d/gozxing v0.1.1
)

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/fxamacker/cbor/v2 v2.10.0
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/skip2/go-qrcode v0.0.0-20200617195104-da1b6568686e
	github.com/veraison/go-cose v1.3.0
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/sys v0.1.0 // indirect
	golang.org/x/text v0.3.7
	golang.org/x/xerrors v0.0.0-20200804184101-5ec99f83aff1 // indirect
)
