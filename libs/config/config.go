// Package config loads a service's configuration from environment variables
// into a struct whose fields carry `env`, `default`, `secret` and `required`
// tags. Loading validates every value and reports all problems at once;
// String prints the result with secrets masked.
//
//	type Config struct {
//	    HTTPAddr string        `env:"OC_HTTP_ADDR" default:":8000" help:"listen address"`
//	    Timeout  time.Duration `env:"OC_TIMEOUT" default:"10s"`
//	    Secret   string        `env:"OC_SECRET" secret:"true"`
//	}
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Getenv reads one variable; os.Getenv in main, a map lookup in tests.
type Getenv func(string) string

// Validator is implemented by config structs that check cross-field rules.
type Validator interface{ Validate() error }

// Load fills dst (a pointer to a struct) from getenv, applying defaults.
// Nested structs are walked. The error lists every bad variable.
func Load(getenv Getenv, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("config: Load needs a pointer to a struct")
	}
	var errs []error
	walk(v.Elem(), func(f reflect.StructField, fv reflect.Value) {
		name := f.Tag.Get("env")
		raw := getenv(name)
		if raw == "" {
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			if f.Tag.Get("required") == "true" {
				errs = append(errs, fmt.Errorf("%s is required: %s", name, helpOf(f)))
			}
			return
		}
		if err := set(fv, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, mask(f, raw), err))
		}
	})
	if len(errs) == 0 {
		if val, ok := dst.(Validator); ok {
			if err := val.Validate(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// String renders the configuration one variable per line, secrets masked.
func String(cfg any) string {
	var b strings.Builder
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	walk(v, func(f reflect.StructField, fv reflect.Value) {
		fmt.Fprintf(&b, "%s=%s\n", f.Tag.Get("env"), mask(f, format(fv)))
	})
	return b.String()
}

// Attrs returns the configuration as key/value pairs for a structured log line.
func Attrs(cfg any) []any {
	var out []any
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	walk(v, func(f reflect.StructField, fv reflect.Value) {
		out = append(out, f.Tag.Get("env"), mask(f, format(fv)))
	})
	return out
}

func walk(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		if _, ok := f.Tag.Lookup("env"); ok {
			fn(f, fv)
			continue
		}
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[time.Time]() {
			walk(fv, fn)
		}
	}
}

func helpOf(f reflect.StructField) string {
	if h := f.Tag.Get("help"); h != "" {
		return h
	}
	return "set it in the environment"
}

func mask(f reflect.StructField, s string) string {
	if f.Tag.Get("secret") == "true" && s != "" {
		return "*****"
	}
	return s
}

func format(v reflect.Value) string {
	if v.Kind() == reflect.Slice {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

func set(v reflect.Value, raw string) error {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("expected a duration such as 30s or 5m")
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("expected true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return errors.New("expected an integer")
		}
		v.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return errors.New("expected a number")
		}
		v.SetFloat(x)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", v.Type())
		}
		var items []string
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}
