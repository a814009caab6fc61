package httpapi

import (
	"errors"
	"net/http"
	"testing"

	"github.com/opencloud/opencloud/libs/apierror"
	"github.com/opencloud/opencloud/libs/server"
	"github.com/opencloud/opencloud/services/oc-auth/internal/clients"
	"github.com/opencloud/opencloud/services/oc-auth/internal/users"
)

// inputs are the request bodies of the admin API, by the fuzzer's kind byte.
var inputs = []func() interface{ validate() error }{
	func() interface{ validate() error } { return new(CreateUserRequest) },
	func() interface{ validate() error } { return new(UpdateUserRequest) },
	func() interface{ validate() error } { return new(SetPasswordRequest) },
	func() interface{ validate() error } { return new(ChangePasswordRequest) },
	func() interface{ validate() error } { return new(CreateGroupRequest) },
	func() interface{ validate() error } { return new(UpdateGroupRequest) },
	func() interface{ validate() error } { return new(CreateClientRequest) },
	func() interface{ validate() error } { return new(UpdateClientRequest) },
}

// FuzzAdminInput feeds arbitrary bodies to the decoding and validation of
// every admin request: whatever comes in, the answer is either a valid
// request or a 4xx error naming what to fix, never a panic or a 500; and a
// request that passes validation satisfies the domain's rules.
func FuzzAdminInput(f *testing.F) {
	f.Add(uint8(0), []byte(`{"username":"ada","password":"analytical-engine","groups":["admin"]}`))
	f.Add(uint8(6), []byte(`{"name":"x","grant_types":["client_credentials"],"roles":["user"]}`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		req := inputs[int(kind)%len(inputs)]()
		err := server.DecodeBytes(body, req)
		if err == nil {
			err = req.validate()
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
		case *CreateUserRequest:
			if users.CheckUsername(r.Username) != "" || users.CheckPassword(r.Password) != "" || users.CheckGroups(r.Groups) != "" {
				t.Fatalf("accepted an invalid user: %+v", r)
			}
		case *CreateClientRequest:
			if len(r.settings().Check()) != 0 || (r.ClientID != "" && clients.CheckID(r.ClientID) != "") {
				t.Fatalf("accepted an invalid client: %+v", r)
			}
		case *UpdateUserRequest:
			up := r.apply(users.User{Username: "ada"})
			if users.CheckUsername(up.Username) != "" {
				t.Fatalf("update leads to an invalid user name: %+v", up)
			}
		case *UpdateClientRequest:
			_ = r.apply(clients.Client{Name: "x", GrantTypes: []string{clients.GrantClientCredentials}}).Check()
		}
	})
}
