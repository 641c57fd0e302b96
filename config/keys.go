package config

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/carepath/carepath/failure"
	"github.com/carepath/carepath/identity"
)

// Key is one setting: its dotted name in the file and the environment variable that overrides it.
type Key struct {
	Name string // such as server.read_timeout
	Env  string // such as CAREPATH_SERVER_READ_TIMEOUT
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	roleMapType  = reflect.TypeFor[map[string][]identity.Role]()
	configType   = reflect.TypeFor[Config]()
)

// field is a Key together with where it sits in a Config.
type field struct {
	Key
	index []int
}

// Keys lists every setting in the order of the file's sections. The file's key names, the
// environment variables and `carepath config show` all come from the Config struct's tags, so
// they cannot drift apart.
func Keys() []Key {
	fs := fields(configType, "", nil)
	out := make([]Key, len(fs))
	for i, f := range fs {
		out[i] = f.Key
	}
	return out
}

func fields(t reflect.Type, prefix string, index []int) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name := yamlName(sf)
		if name == "" {
			continue
		}
		key := join(prefix, name)
		idx := append(slices.Clone(index), i)
		if isSection(sf.Type) {
			out = append(out, fields(sf.Type, key, idx)...)
			continue
		}
		env := sf.Tag.Get("env")
		if env == "" {
			env = envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		}
		out = append(out, field{Key: Key{Name: key, Env: env}, index: idx})
	}
	return out
}

func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func isSection(t reflect.Type) bool { return t.Kind() == reflect.Struct }

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// sectionKeys lists the keys a section takes, for an unknown-key message.
func sectionKeys(t reflect.Type) string {
	var names []string
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// decoder walks the YAML node tree itself rather than decoding into the struct, so that every
// error can name the dotted key and its line, and values are parsed exactly as the environment's are.
type decoder struct {
	path string
}

func (d decoder) errorf(line int, format string, args ...any) error {
	return failure.Errorf(failure.Invalid, "config: %s:%d: %s", d.path, line, fmt.Sprintf(format, args...))
}

func decodeFile(cfg *Config, path string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return failure.Errorf(failure.Invalid, "config: %s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file: the defaults stand
	}
	return decoder{path: path}.section(reflect.ValueOf(cfg).Elem(), doc.Content[0], "")
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

func (d decoder) section(v reflect.Value, n *yaml.Node, prefix string) error {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	what := prefix
	if what == "" {
		what = "the file"
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n.Line, "%s: want a mapping of keys, found %s", what, kindName(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(prefix, k.Value)
		if line, dup := seen[k.Value]; dup {
			return d.errorf(k.Line, "key %q given twice (first at line %d)", key, line)
		}
		seen[k.Value] = k.Line
		sf, ok := fieldNamed(v.Type(), k.Value)
		if !ok {
			return d.errorf(k.Line, "unknown key %q; %s takes %s", key, what, sectionKeys(v.Type()))
		}
		fv := v.FieldByIndex(sf.Index)
		if isSection(sf.Type) {
			if err := d.section(fv, val, key); err != nil {
				return err
			}
			continue
		}
		if err := d.value(fv, val, key); err != nil {
			return err
		}
	}
	return nil
}

func fieldNamed(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if sf := t.Field(i); yamlName(sf) == name {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

func (d decoder) value(fv reflect.Value, n *yaml.Node, key string) error {
	n = resolve(n)
	if isNull(n) {
		return nil // "key:" with nothing after it leaves the default
	}
	if fv.Type() == roleMapType {
		return d.roleMap(fv, n, key)
	}
	if n.Kind != yaml.ScalarNode {
		return d.errorf(n.Line, "%s: want a single value, found %s", key, kindName(n))
	}
	if err := setText(fv, n.Value); err != nil {
		return d.errorf(n.Line, "%s: %v", key, err)
	}
	return nil
}

// roleMap reads claim values to roles, each given as a list or as one comma-separated string.
func (d decoder) roleMap(fv reflect.Value, n *yaml.Node, key string) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n.Line, "%s: want a mapping from claim value to roles, found %s", key, kindName(n))
	}
	m := map[string][]identity.Role{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], resolve(n.Content[i+1])
		if _, dup := m[k.Value]; dup {
			return d.errorf(k.Line, "%s: claim value %q given twice", key, k.Value)
		}
		var names []string
		switch val.Kind {
		case yaml.ScalarNode:
			names = strings.Split(val.Value, ",")
		case yaml.SequenceNode:
			for _, item := range val.Content {
				if item = resolve(item); item.Kind != yaml.ScalarNode {
					return d.errorf(item.Line, "%s[%q]: want role names, found %s", key, k.Value, kindName(item))
				}
				names = append(names, item.Value)
			}
		default:
			return d.errorf(val.Line, "%s[%q]: want a list of roles, found %s", key, k.Value, kindName(val))
		}
		roles, err := parseRoles(names)
		if err != nil {
			return d.errorf(val.Line, "%s[%q]: %v", key, k.Value, err)
		}
		m[k.Value] = roles
	}
	fv.Set(reflect.ValueOf(m))
	return nil
}

func parseRoles(names []string) ([]identity.Role, error) {
	var roles []identity.Role
	for _, name := range names {
		if strings.TrimSpace(name) == "" {
			continue
		}
		r, err := identity.ParseRole(name)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		return nil, fmt.Errorf("no roles given")
	}
	return roles, nil
}

// setText parses one value as written in the file or in an environment variable. Messages
// never repeat a string value, so a secret cannot leak through them.
func setText(fv reflect.Value, s string) error {
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration; write it like 500ms, 30s, 5m or 1h30m", s)
		}
		if d < 0 {
			return fmt.Errorf("%q is negative", s)
		}
		fv.SetInt(int64(d))
	case fv.Type() == roleMapType:
		m, err := parseRoleMapText(s)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(m))
	case fv.Kind() == reflect.String:
		fv.SetString(s)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q: want true or false", s)
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q: want a whole number", s)
		}
		fv.SetInt(int64(n))
	case fv.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q: want a number such as 0.5", s)
		}
		fv.SetFloat(f)
	default:
		return fmt.Errorf("unsupported setting type %s", fv.Type())
	}
	return nil
}

// parseRoleMapText reads the environment's form of a role map: CLAIM=ROLE,ROLE;CLAIM=ROLE.
func parseRoleMapText(s string) (map[string][]identity.Role, error) {
	m := map[string][]identity.Role{}
	for pair := range strings.SplitSeq(s, ";") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		claim, roles, ok := strings.Cut(pair, "=")
		claim = strings.TrimSpace(claim)
		if !ok || claim == "" {
			return nil, fmt.Errorf("%q: want CLAIM=ROLE,ROLE;CLAIM=ROLE", pair)
		}
		if _, dup := m[claim]; dup {
			return nil, fmt.Errorf("claim value %q given twice", claim)
		}
		rs, err := parseRoles(strings.Split(roles, ","))
		if err != nil {
			return nil, fmt.Errorf("%q: %v", claim, err)
		}
		m[claim] = rs
	}
	return m, nil
}

// applyEnv overrides each key whose environment variable is set and not empty.
func applyEnv(cfg *Config, env func(string) string) error {
	v := reflect.ValueOf(cfg).Elem()
	for _, f := range fields(configType, "", nil) {
		s := env(f.Env)
		if s == "" {
			continue
		}
		if err := setText(v.FieldByIndex(f.index), s); err != nil {
			return failure.Errorf(failure.Invalid, "config: %s (%s): %v", f.Env, f.Name, err)
		}
	}
	return nil
}

// render writes c as a YAML file with each key's environment variable as a comment. It formats
// values through their String methods, so Secret and DSN print masked whatever c holds.
func render(c Config) string {
	envs := map[string]string{}
	for _, k := range Keys() {
		envs[k.Name] = k.Env
	}
	root := renderSection(reflect.ValueOf(c), "", envs)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return fmt.Sprintf("config: unable to render: %v", err)
	}
	_ = enc.Close()
	return buf.String()
}

func renderSection(v reflect.Value, prefix string, envs map[string]string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		name := yamlName(sf)
		if name == "" {
			continue
		}
		key := join(prefix, name)
		kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}
		var vn *yaml.Node
		if isSection(sf.Type) {
			vn = renderSection(v.Field(i), key, envs)
		} else {
			vn = renderValue(v.Field(i))
			if vn.Kind == yaml.ScalarNode || len(vn.Content) == 0 {
				vn.LineComment = envs[key]
			} else {
				kn.LineComment = envs[key]
			}
		}
		m.Content = append(m.Content, kn, vn)
	}
	return m
}

func renderValue(v reflect.Value) *yaml.Node {
	scalar := func(tag, value string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value} }
	switch {
	case v.Type() == durationType:
		return scalar("!!str", formatDuration(time.Duration(v.Int())))
	case v.Type() == roleMapType:
		m := &yaml.Node{Kind: yaml.MappingNode}
		if v.Len() == 0 {
			m.Style = yaml.FlowStyle
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			roles := v.MapIndex(reflect.ValueOf(k))
			for j := range roles.Len() {
				seq.Content = append(seq.Content, scalar("!!str", roles.Index(j).String()))
			}
			m.Content = append(m.Content, scalar("!!str", k), seq)
		}
		return m
	case v.Type().Implements(reflect.TypeFor[fmt.Stringer]()):
		return scalar("!!str", v.Interface().(fmt.Stringer).String())
	case v.Kind() == reflect.Bool:
		return scalar("!!bool", strconv.FormatBool(v.Bool()))
	case v.Kind() == reflect.Int:
		return scalar("!!int", strconv.FormatInt(v.Int(), 10))
	case v.Kind() == reflect.Float64:
		// A whole number is written as one (50, not 50.0), tagged so the file shows no tag.
		if f := v.Float(); f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return scalar("!!int", strconv.FormatFloat(f, 'f', -1, 64))
		}
		return scalar("!!float", strconv.FormatFloat(v.Float(), 'g', -1, 64))
	default:
		return scalar("!!str", v.String())
	}
}

// formatDuration writes 1m rather than time's 1m0s, as a person would in the file.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
