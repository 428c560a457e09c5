package slug

import "testing"

func TestMake(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Acme Corp", "acme-corp"},
		{"  Hello,   World!! ", "hello-world"},
		{"Ünïcode only", "n-code-only"},
		{"!!!", "fallback"},
		{"", "fallback"},
		{"a-very-long-name-that-goes-on-and-on-and-on-far-beyond-fifty-characters", "a-very-long-name-that-goes-on-and-on-and-on-far-be"},
	}
	for _, tt := range tests {
		if got := Make(tt.in, "fallback"); got != tt.want {
			t.Errorf("Make(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Make(tt.in, "fallback"); !Valid(got) {
			t.Errorf("Make(%q) = %q, which is not Valid", tt.in, got)
		}
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"blog": true, "my-blog-2": true, "a": true,
		"": false, "-blog": false, "blog-": false, "Blog": false, "my_blog": false, "my blog": false,
	} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
