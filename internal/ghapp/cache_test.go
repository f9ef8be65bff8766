package ghapp

import (
	"bytes"
	"fmt"
	"testing"
)

func TestResponseCacheEvictsLeastRecentlyUsedWithinItsBound(t *testing.T) {
	c := newResponseCache(100)
	val := bytes.Repeat([]byte("x"), 30) // 31-32 bytes with its key
	for i := 0; i < 3; i++ {
		c.Set(fmt.Sprint(i), val)
	}
	if _, ok := c.Get("0"); !ok { // 0 becomes most recent
		t.Fatal("entry 0 missing before the cache is full")
	}
	c.Set("3", val) // over 100 bytes: evicts 1, the least recently used
	if _, ok := c.Get("1"); ok {
		t.Error("entry 1 survived eviction")
	}
	for _, k := range []string{"0", "2", "3"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("entry %s evicted, want kept", k)
		}
	}
	if c.size > c.max {
		t.Errorf("size %d exceeds bound %d", c.size, c.max)
	}
	c.Set("huge", bytes.Repeat([]byte("y"), 200))
	if _, ok := c.Get("huge"); ok {
		t.Error("an entry larger than the cache was kept")
	}
	c.Set("2", []byte("short")) // replace shrinks the size
	if v, _ := c.Get("2"); string(v) != "short" {
		t.Errorf("replaced value = %q", v)
	}
	c.Delete("2")
	if _, ok := c.Get("2"); ok {
		t.Error("deleted entry still there")
	}
}
