module github.com/opencloud/opencloud/services/oc-catalog

go 1.26.8

require github.com/opencloud/opencloud/libs v0.0.0

replace github.com/opencloud/opencloud/libs => ../../libs
