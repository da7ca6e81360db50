package agents

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"20GiB", 20 << 30, true},
		{"1.5 GB", 1_500_000_000, true},
		{"500MB", 500_000_000, true},
		{"10KiB", 10 << 10, true},
		{"0", 0, true},
		{"lots", 0, false},
		{"-1GB", 0, false},
		{"", 0, false},
	} {
		got, err := parseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseBytes(%q): got %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestValidatePool(t *testing.T) {
	size := func(n int) *int { return &n }
	for _, tc := range []struct {
		name string
		pool Pool
		ok   bool
	}{
		{"default", Pool{MaxDisk: defaultPoolDisk}, true},
		{"zero", Pool{Size: size(0), MaxDisk: "1GB"}, true},
		{"most", Pool{Size: size(maxPoolSize), MaxDisk: "1GB"}, true},
		{"negative", Pool{Size: size(-1), MaxDisk: "1GB"}, false},
		{"too many", Pool{Size: size(maxPoolSize + 1), MaxDisk: "1GB"}, false},
		{"bad disk", Pool{MaxDisk: "lots"}, false},
	} {
		err := validate(Config{Pool: tc.pool}, ".studio.toml")
		if (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestPoolConfigOverlay checks that the repo's config sets the pool's size
// and its prepare commands (which need trust), and can lower the user's
// disk cap but not raise it.
func TestPoolConfigOverlay(t *testing.T) {
	dir := t.TempDir()
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	user := filepath.Join(dir, "config.toml")
	write(user, "[pool]\nmax_disk = \"10GB\"\nsize = 2\n")
	m := &Manager{opts: Options{UserConfig: user, Self: "studiod"}}
	ctx := t.Context()
	st, err := openStore(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	m.store = st
	repo := filepath.Join(dir, "repo")
	os.MkdirAll(repo, 0o755)
	for _, tc := range []struct {
		name, repoConfig, wantDisk string
		wantSize                   int
		wantTrusted                bool
	}{
		{"user only", "", "10GB", 2, true},
		{"repo lowers the cap", "[pool]\nmax_disk = \"1GB\"\nsize = 1\n", "1GB", 1, true},
		{"repo cannot raise it", "[pool]\nmax_disk = \"1TB\"\n", "10GB", 2, true},
		{"prepare needs trust", "[setup]\nprepare = [\"npm ci\"]\n", "10GB", 2, false},
	} {
		write(filepath.Join(repo, RepoConfigName), tc.repoConfig)
		cfg, rc, err := m.effectiveConfig(ctx, repo)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if cfg.Pool.MaxDisk != tc.wantDisk || *cfg.Pool.Size != tc.wantSize || rc.Trusted != tc.wantTrusted {
			t.Errorf("%s: got max_disk %s, size %d, trusted %v; want %s, %d, %v", tc.name,
				cfg.Pool.MaxDisk, *cfg.Pool.Size, rc.Trusted, tc.wantDisk, tc.wantSize, tc.wantTrusted)
		}
	}
}
