package policy

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// inputValue converts the input document to an OPA value directly, walking
// the structs by their json tags: the same document encoding/json would
// give, without the marshal, unmarshal and InterfaceToValue round trip
// (which dominated evaluation time at thousands of files). Types with their
// own JSON or text marshalling, and anything unusual, take the round trip.
func inputValue(in *Input) (ast.Value, error) {
	return toValue(reflect.ValueOf(in))
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	filesType     = reflect.TypeFor[[]File]()
)

// fileTerms caches each changed file's converted term by the file's value:
// a pull request is evaluated again on every push, check and review with
// mostly the same files, and converting thousands of them dominated an
// evaluation. OPA's values are immutable once built and safe to share
// between evaluations. The cache starts afresh when it would exceed
// maxFileTerms.
var fileTerms struct {
	sync.RWMutex
	m map[File]*ast.Term
}

const maxFileTerms = 20000

// fileFields is true while File has the fields fileTerm writes: a field
// added to File without updating fileTerm takes the reflective path.
var fileFields = reflect.TypeFor[File]().NumField() == 6

var (
	filePath, filePrevious, fileStatus = ast.InternedTerm("path"), ast.InternedTerm("previous_path"), ast.InternedTerm("status")
	fileAdditions, fileDeletions       = ast.InternedTerm("additions"), ast.InternedTerm("deletions")
	fileFirstLine                      = ast.InternedTerm("first_line")
)

// fileTerm is toValue of a File without reflection (TestInputValueMatchesJSON).
func fileTerm(f *File) *ast.Term {
	pairs := make([][2]*ast.Term, 0, 6)
	pairs = append(pairs, [2]*ast.Term{filePath, ast.StringTerm(f.Path)})
	if f.PreviousPath != "" {
		pairs = append(pairs, [2]*ast.Term{filePrevious, ast.StringTerm(f.PreviousPath)})
	}
	pairs = append(pairs, [2]*ast.Term{fileStatus, ast.StringTerm(f.Status)},
		[2]*ast.Term{fileAdditions, ast.InternedTerm(f.Additions)},
		[2]*ast.Term{fileDeletions, ast.InternedTerm(f.Deletions)})
	if f.FirstLine != 0 {
		pairs = append(pairs, [2]*ast.Term{fileFirstLine, ast.InternedTerm(f.FirstLine)})
	}
	return ast.NewTerm(ast.NewObject(pairs...))
}

// filesValue is toValue of a []File, with one cached term per file.
func filesValue(fs []File) (ast.Value, error) {
	terms := make([]*ast.Term, len(fs))
	var missing []int
	fileTerms.RLock()
	for i := range fs {
		if t, ok := fileTerms.m[fs[i]]; ok {
			terms[i] = t
		} else {
			missing = append(missing, i)
		}
	}
	fileTerms.RUnlock()
	if len(missing) == 0 {
		return ast.NewArray(terms...), nil
	}
	for _, i := range missing {
		if fileFields {
			terms[i] = fileTerm(&fs[i])
			continue
		}
		x, err := toValue(reflect.ValueOf(&fs[i]).Elem())
		if err != nil {
			return nil, err
		}
		terms[i] = ast.NewTerm(x)
	}
	fileTerms.Lock()
	if fileTerms.m == nil || len(fileTerms.m)+len(missing) > maxFileTerms {
		fileTerms.m = make(map[File]*ast.Term, min(len(missing), maxFileTerms))
	}
	for _, i := range missing {
		if len(fileTerms.m) < maxFileTerms {
			fileTerms.m[fs[i]] = terms[i]
		}
	}
	fileTerms.Unlock()
	return ast.NewArray(terms...), nil
}

func toValue(v reflect.Value) (ast.Value, error) {
	if !v.IsValid() {
		return ast.NullValue, nil
	}
	t := v.Type()
	if marshals(t) || (v.CanAddr() && marshals(reflect.PointerTo(t))) {
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
			return ast.NullValue, nil
		}
		x := v.Interface()
		if v.CanAddr() && !marshals(t) {
			x = v.Addr().Interface()
		}
		return viaJSON(x)
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		return toValue(v.Elem())
	case reflect.String:
		return ast.String(v.String()), nil
	case reflect.Bool:
		return ast.Boolean(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return ast.InternedTerm(v.Int()).Value, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return ast.Number(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return ast.Number(strconv.FormatFloat(v.Float(), 'g', -1, t.Bits())), nil
	case reflect.Slice:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		if t == filesType {
			return filesValue(v.Interface().([]File))
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return viaJSON(v.Interface()) // []byte is base64 in JSON
		}
		fallthrough
	case reflect.Array:
		terms := make([]*ast.Term, v.Len())
		for i := range terms {
			x, err := toValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(x)
		}
		return ast.NewArray(terms...), nil
	case reflect.Map:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		if t.Key().Kind() != reflect.String {
			return viaJSON(v.Interface())
		}
		pairs := make([][2]*ast.Term, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			x, err := toValue(it.Value())
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, [2]*ast.Term{ast.StringTerm(it.Key().String()), ast.NewTerm(x)})
		}
		return ast.NewObject(pairs...), nil
	case reflect.Struct:
		fields, ok := structFields(t)
		if !ok {
			return viaJSON(v.Interface())
		}
		pairs := make([][2]*ast.Term, 0, len(fields))
		for _, f := range fields {
			fv := v.Field(f.index)
			if (f.omitEmpty && emptyValue(fv)) || (f.omitZero && fv.IsZero()) {
				continue
			}
			x, err := toValue(fv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.key.Value, err)
			}
			pairs = append(pairs, [2]*ast.Term{f.key, ast.NewTerm(x)})
		}
		return ast.NewObject(pairs...), nil
	}
	return viaJSON(v.Interface())
}

func marshals(t reflect.Type) bool {
	return t.Implements(jsonMarshaler) || t.Implements(textMarshaler)
}

func viaJSON(x any) (ast.Value, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(bytes.NewReader(b))
}

// emptyValue is encoding/json's omitempty test.
func emptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

type field struct {
	index               int
	key                 *ast.Term
	omitEmpty, omitZero bool
}

type structInfo struct {
	fields []field
	ok     bool // false: take the JSON round trip (embedded fields, ",string")
}

var structCache sync.Map // reflect.Type -> structInfo

func structFields(t reflect.Type) ([]field, bool) {
	if info, ok := structCache.Load(t); ok {
		return info.(structInfo).fields, info.(structInfo).ok
	}
	info := structInfo{ok: true}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			info = structInfo{}
			break
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		f := field{index: i, key: ast.StringTerm(name)}
		for opt := range strings.SplitSeq(opts, ",") {
			switch opt {
			case "omitempty":
				f.omitEmpty = true
			case "omitzero":
				f.omitZero = true
			case "string":
				info.ok = false
			}
		}
		info.fields = append(info.fields, f)
	}
	structCache.Store(t, info)
	return info.fields, info.ok
}
