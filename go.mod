module github.com/wssbench/wssbench

go 1.26.8

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
