package policy

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestReadmeConfigIsTheDefault keeps the README's config summary true: it
// must parse strictly and equal DefaultConfig.
func TestReadmeConfigIsTheDefault(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "equal to the defaults):")
	if !ok {
		t.Fatal("README has no config summary")
	}
	_, block, _ := strings.Cut(after, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	got, err := ParseConfig("README.md", []byte(block), nil)
	if err != nil {
		t.Fatalf("README config does not parse: %v", err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("README config differs from the defaults:\n got %+v\nwant %+v", got, want)
	}
}
