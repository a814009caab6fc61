package libs
import (
 _ "github.com/gin-gonic/gin"
 _ "github.com/nats-io/nats-server/v2/server"
 _ "github.com/nats-io/nats.go"
 _ "modernc.org/sqlite"
 _ "go.mongodb.org/mongo-driver/mongo"
 _ "github.com/FerretDB/FerretDB/ferretdb"
 _ "github.com/coreos/go-oidc/v3/oidc"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/swaggo/swag"
 _ "github.com/swaggo/gin-swagger"
 _ "github.com/swaggo/files"
 _ "github.com/zitadel/oidc/v3/pkg/op"
 _ "github.com/google/uuid"
)
