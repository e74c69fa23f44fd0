module checkpoint

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/fxamacker/cbor/v2 v2.10.0
	github.com/veraison/go-cose v1.3.0
	golang.org/x/text v0.43.0
)

require github.com/x448/float16 v0.8.4 // indirect
