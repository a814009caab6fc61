package httpapi

import (
	"errors"
	"net/http"
	"testing"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-auth/api"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// input is a request body of the admin API and the check its handler runs.
type input struct {
	req   any
	check func() error
}

func inputOf[T any](check func(*T) error) input {
	req := new(T)
	return input{req: req, check: func() error { return check(req) }}
}

// inputs are the request bodies of the admin API, by the fuzzer's kind byte.
var inputs = []func() input{
	func() input { return inputOf(checkCreateUser) },
	func() input { return inputOf(checkUpdateUser) },
	func() input { return inputOf(checkSetPassword) },
	func() input { return inputOf(checkChangePassword) },
	func() input { return inputOf(checkCreateGroup) },
	func() input { return inputOf(checkUpdateGroup) },
	func() input { return inputOf(checkCreateClient) },
	func() input { return inputOf(checkUpdateClient) },
}

// FuzzAdminInput feeds arbitrary bodies to the decoding and validation of
// every admin request: whatever comes in, the answer is either a valid
// request or a 4xx error naming what to fix, never a panic or a 500; and a
// request that passes validation satisfies the domain's rules.
func FuzzAdminInput(f *testing.F) {
	f.Add(uint8(0), []byte(`{"username":"ada","password":"analytical-engine","groups":["admin"]}`))
	f.Add(uint8(6), []byte(`{"name":"x","grant_types":["client_credentials"],"roles":["user"]}`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		in := inputs[int(kind)%len(inputs)]()
		req := in.req
		err := server.DecodeBytes(body, req)
		if err == nil {
			err = in.check()
		}
		if err != nil {
			var ae *apierror.Error
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
				t.Fatalf("%T: error %v is not a 4xx API error", req, err)
			}
			if ae.Status == http.StatusBadRequest && ae.Code == "invalid_request" {
				// The field may be "" itself: {"": 1} names an unknown field "".
				if fs, ok := ae.Details.([]apierror.FieldError); !ok || len(fs) == 0 {
					t.Fatalf("%T: invalid_request without a field: %+v", req, ae)
				}
			}
			return
		}
		switch r := req.(type) {
		case *api.CreateUserRequest:
			if users.CheckUsername(r.Username) != "" || users.CheckPassword(r.Password) != "" || users.CheckGroups(r.Groups) != "" {
				t.Fatalf("accepted an invalid user: %+v", r)
			}
		case *api.CreateClientRequest:
			if len(clientSettings(r).Check()) != 0 || (r.ClientID != "" && clients.CheckID(r.ClientID) != "") {
				t.Fatalf("accepted an invalid client: %+v", r)
			}
		case *api.UpdateUserRequest:
			up := userUpdate(r, users.User{Username: "ada"})
			if users.CheckUsername(up.Username) != "" {
				t.Fatalf("update leads to an invalid user name: %+v", up)
			}
		case *api.UpdateClientRequest:
			_ = clientUpdate(r, clients.Client{Name: "x", GrantTypes: []string{clients.GrantClientCredentials}}).Check()
		}
	})
}
