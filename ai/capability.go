package ai

// Capability is one thing a job asks of a model provider.
type Capability string

// The capabilities. Each has its own model setting (KILN_MODEL_CHAT and so
// on, or the tenant's integration settings).
const (
	CapChat      Capability = "chat"
	CapVision    Capability = "vision"
	CapImage     Capability = "image"
	CapSpeech    Capability = "speech"
	CapEmbedding Capability = "embedding"
	CapVideo     Capability = "video"
)

// Capabilities lists every capability, in a stable order.
func Capabilities() []Capability {
	return []Capability{CapChat, CapVision, CapImage, CapSpeech, CapEmbedding, CapVideo}
}
