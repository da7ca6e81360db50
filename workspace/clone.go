package workspace

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// CloneFile copies src to dst, which must not exist, with mode perm. Where
// the file system can (btrfs, XFS, bcachefs, APFS-like copy-on-write), dst
// is a clone sharing src's blocks until either is written (the FICLONE
// ioctl, what `cp --reflink` does): instant and free of disk space. It
// reports whether it cloned; elsewhere (ext4, tmpfs, across file systems)
// it copies the bytes.
func CloneFile(src, dst string, perm fs.FileMode) (cloned bool, err error) {
	in, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return false, err
	}
	if err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err == nil {
		return true, out.Close()
	} else if !cloneUnsupported(err) {
		out.Close()
		os.Remove(dst)
		return false, err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return false, err
	}
	return false, out.Close()
}

// cloneUnsupported reports the errors FICLONE gives when the file system
// (or the pair of them) cannot clone, as opposed to a failure of the copy.
func cloneUnsupported(err error) bool {
	for _, e := range []error{unix.EOPNOTSUPP, unix.ENOTSUP, unix.EXDEV, unix.EINVAL, unix.ENOTTY, unix.ENOSYS, unix.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
