//go:build unix

package workspace

import (
	"io/fs"
	"syscall"
)

type fileID struct{ dev, ino uint64 }

// allocated is the space fi takes on disk and its identity.
func allocated(fi fs.FileInfo) (int64, fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fi.Size(), fileID{}, false
	}
	return int64(st.Blocks) * 512, fileID{uint64(st.Dev), uint64(st.Ino)}, true
}
