package content_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/testkit"
)

// A job that saves the same file twice (it ran again after a crash), or
// two runs of it at once, leave one row and one stored file per index.
func TestCreateMediaFromJobIsIdempotent(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	raw := pngBytes(t, 4, 3)
	first, err := f.svc.CreateMediaFromJob(ctx, f.acme, f.acmeSite, "job_1", 0, raw, content.MediaInput{Filename: "a.png", AltText: ptr("first")})
	testkit.Must(t, "create", err)
	if first.ContentType != "image/png" || first.Width == nil || *first.Width != 4 || first.AltText != "first" {
		t.Fatalf("media = %+v", first)
	}
	again, err := f.svc.CreateMediaFromJob(ctx, f.acme, f.acmeSite, "job_1", 0, pngBytes(t, 8, 8), content.MediaInput{Filename: "b.png"})
	testkit.Must(t, "create again", err)
	if again.ID != first.ID || again.SHA256 != first.SHA256 {
		t.Fatalf("second save made %s (%s), want the first file %s", again.ID, again.SHA256, first.ID)
	}
	var wg sync.WaitGroup
	results := make([]content.Media, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.svc.CreateMediaFromJob(ctx, f.acme, f.acmeSite, "job_1", 1, pngBytes(t, 2+i, 2), content.MediaInput{})
		}()
	}
	wg.Wait()
	for i := range results {
		testkit.Must(t, "concurrent create", errs[i])
		if results[i].ID != results[0].ID {
			t.Fatalf("concurrent runs made %s and %s for one index", results[0].ID, results[i].ID)
		}
	}
	if n := f.count("media"); n != 2 {
		t.Fatalf("%d media rows, want 2 (indexes 0 and 1)", n)
	}
	if files := f.files(); len(files) != 2 {
		t.Fatalf("stored files = %v, want 2: a losing run must remove its bytes", files)
	}
	byIndex, err := f.svc.MediaOfJob(ctx, f.acme, "job_1")
	testkit.Must(t, "media of job", err)
	if len(byIndex) != 2 || byIndex[0].ID != first.ID || byIndex[1].ID != results[0].ID {
		t.Fatalf("MediaOfJob = %v", byIndex)
	}
	if other, _ := f.svc.MediaOfJob(ctx, f.globex, "job_1"); len(other) != 0 {
		t.Fatalf("another tenant sees the job's media: %v", other)
	}
}

func TestCreateMediaFromJobRefusesBadInput(t *testing.T) {
	f := newFixture(t, content.MediaConfig{MaxBytes: 1000})
	ctx := context.Background()
	cases := []struct {
		name   string
		tenant string
		site   string
		data   []byte
		kind   problem.Kind
		code   string
	}{
		{"another tenant's site", f.globex, f.acmeSite, pngBytes(t, 2, 2), problem.NotFound, "not_found"},
		{"unsupported type", f.acme, f.acmeSite, []byte("<svg xmlns='http://www.w3.org/2000/svg'></svg>"), problem.Unsupported, "unsupported_media_type"},
		{"too large", f.acme, f.acmeSite, make([]byte, 5000), problem.TooLarge, "media_too_large"},
		{"empty", f.acme, f.acmeSite, nil, problem.Invalid, "validation_failed"},
	}
	for i, c := range cases {
		if c.name == "too large" {
			c.data = append(pngBytes(t, 2, 2), make([]byte, 5000)...)
		}
		_, err := f.svc.CreateMediaFromJob(ctx, c.tenant, c.site, "job_bad", i, c.data, content.MediaInput{})
		p, ok := problem.As(err)
		if !ok || p.Kind != c.kind || (c.code != "not_found" && p.Code != c.code) {
			t.Errorf("%s: err = %v, want kind %d code %s", c.name, err, c.kind, c.code)
		}
	}
	if n := f.count("media"); n != 0 {
		t.Fatalf("%d media rows after refusals", n)
	}
	if files := f.files(); len(files) != 0 {
		t.Fatalf("files left after refusals: %v", files)
	}
}

// Versions chain on the original: an edit of a version adds the next
// number to the same chain, a job adds one version however often it runs,
// and the chain is listed from any of its members.
func TestMediaVersions(t *testing.T) {
	f := newFixture(t, content.MediaConfig{})
	ctx := context.Background()
	root, err := f.svc.CreateMediaFromJob(ctx, f.acme, f.acmeSite, "job_up", 0, pngBytes(t, 4, 4), content.MediaInput{})
	testkit.Must(t, "root", err)
	single, err := f.svc.MediaVersions(ctx, f.acme, f.acmeSite, root.ID)
	testkit.Must(t, "versions of a new file", err)
	if len(single) != 1 || single[0].Version != 1 || single[0].MediaID != root.ID || single[0].JobID != nil {
		t.Fatalf("versions of an unedited file = %+v", single)
	}
	edit := func(source, job, instruction string) content.MediaVersion {
		t.Helper()
		m, err := f.svc.CreateMediaFromJob(ctx, f.acme, f.acmeSite, job, 0, pngBytes(t, 5, 5), content.MediaInput{})
		testkit.Must(t, "version file", err)
		v, err := f.svc.AddMediaVersion(ctx, f.acme, source, m.ID, job, instruction)
		testkit.Must(t, "add version", err)
		return v
	}
	v2 := edit(root.ID, "job_e1", "make it blue")
	v2again := edit(root.ID, "job_e1", "make it blue")
	v3 := edit(v2.MediaID, "job_e2", "add a hat")
	if v2.Version != 2 || v2again.MediaID != v2.MediaID || v2again.Version != 2 || v3.Version != 3 ||
		v3.RootMediaID != root.ID || v3.SourceMediaID == nil || *v3.SourceMediaID != v2.MediaID || v3.Instruction != "add a hat" {
		t.Fatalf("v2 = %+v\nv2 again = %+v\nv3 = %+v", v2, v2again, v3)
	}
	for _, from := range []string{root.ID, v2.MediaID, v3.MediaID} {
		list, err := f.svc.MediaVersions(ctx, f.acme, f.acmeSite, from)
		testkit.Must(t, "list versions", err)
		var got []int
		for _, v := range list {
			got = append(got, v.Version)
		}
		if len(list) != 3 || list[0].MediaID != root.ID || list[1].MediaID != v2.MediaID || list[2].MediaID != v3.MediaID ||
			list[2].Media.ID != v3.MediaID || list[2].JobID == nil || *list[2].JobID != "job_e2" {
			t.Fatalf("versions listed from %s = %v (%+v)", from, got, list)
		}
	}
	if _, err := f.svc.MediaVersions(ctx, f.globex, f.globSite, root.ID); !errors.Is(err, problem.NotFoundf("media")) {
		t.Fatalf("another tenant lists the versions: %v", err)
	}
	if _, err := f.svc.AddMediaVersion(ctx, f.globex, root.ID, v3.MediaID, "job_x", "steal"); err == nil {
		t.Fatal("another tenant added a version")
	}
	testkit.Must(t, "delete v2", f.svc.DeleteMedia(ctx, f.acme, f.acmeSite, v2.MediaID))
	list, err := f.svc.MediaVersions(ctx, f.acme, f.acmeSite, v3.MediaID)
	testkit.Must(t, "versions after a delete", err)
	if len(list) != 2 || list[1].Version != 3 || list[1].SourceMediaID != nil {
		t.Fatalf("after deleting v2: %+v", list)
	}
}
