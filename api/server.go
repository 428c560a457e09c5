// Package api is Kiln's HTTP interface: routing, authentication and
// authorization, request validation, and the handlers of every route under
// /api/v1, plus health checks and the OpenAPI spec. Handlers stay thin: they
// read the request, call a domain package, and write the answer.
package api

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/kilnhq/kiln/content"
	"github.com/kilnhq/kiln/content/videogen"
	"github.com/kilnhq/kiln/egress"
	"github.com/kilnhq/kiln/identity"
	"github.com/kilnhq/kiln/internal/idempotency"
	"github.com/kilnhq/kiln/internal/metrics"
	"github.com/kilnhq/kiln/internal/problem"
	"github.com/kilnhq/kiln/internal/ratelimit"
	"github.com/kilnhq/kiln/jobs"
	"github.com/kilnhq/kiln/jobs/webhooks"
	"github.com/kilnhq/kiln/rag"
	"github.com/kilnhq/kiln/settings"
	"github.com/kilnhq/kiln/storage"
)

// Config holds the API settings read from the environment.
type Config struct {
	Version       string
	PublicURL     string
	SignupEnabled bool
	// SetupToken is KILN_SETUP_TOKEN; empty means the stored, generated one.
	SetupToken   string
	MaxBodyBytes int64
	// MetricsBasicAuth is "user:pass" guarding /metrics; empty leaves it
	// open.
	MetricsBasicAuth string
	// RateLimits are the default requests per minute per scope (ai,
	// content, auth, general); nil turns rate limiting off.
	RateLimits map[string]int
	// Namespace prefixes the rate limiter's Redis keys.
	Namespace string
	// ConsoleReadOnly makes the /admin/queues dashboard view-only.
	ConsoleReadOnly bool
}

// Deps are the services the API calls.
type Deps struct {
	DB          *pgxpool.Pool
	Redis       *redis.Client
	Identity    *identity.Service
	Content     *content.Service
	Jobs        *jobs.Service
	Idempotency *idempotency.Store
	// Metrics is the process's registry; nil gives the API its own.
	Metrics *metrics.Metrics
	// Webhooks manages endpoints, secrets and deliveries.
	Webhooks *webhooks.Service
	// Egress vets URLs the API is asked to fetch, before a job is made.
	Egress *egress.Client
	// RAG serves knowledge bases, documents, agents and search.
	RAG *rag.Service
	// Files stores PDFs uploaded straight into a knowledge base (the media
	// store; see indexing.UploadKey).
	Files storage.Store
	// Settings holds tenants' provider settings and system prompts.
	Settings *settings.Service
	// Video runs video generation and receives its provider's webhooks.
	Video *videogen.Service
}

// Server answers Kiln's HTTP API.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       *pgxpool.Pool
	redis    *redis.Client
	identity *identity.Service
	content  *content.Service
	jobs     *jobs.Service
	idem     *idempotency.Store
	metrics  *metrics.Metrics
	limits   *ratelimit.Limiter
	webhooks *webhooks.Service
	insp     *asynq.Inspector
	egress   *egress.Client
	rag      *rag.Service
	files    storage.Store
	settings *settings.Service
	video    *videogen.Service
	router   *gin.Engine
}

// New builds the server and its routes.
func New(cfg Config, log *slog.Logger, deps Deps) *Server {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{cfg: cfg, log: log, db: deps.DB, redis: deps.Redis, identity: deps.Identity, content: deps.Content,
		jobs: deps.Jobs, idem: deps.Idempotency, metrics: deps.Metrics,
		webhooks: deps.Webhooks, insp: asynq.NewInspectorFromRedisClient(deps.Redis),
		egress: deps.Egress, rag: deps.RAG, files: deps.Files, settings: deps.Settings, video: deps.Video}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if cfg.RateLimits != nil {
		s.limits = ratelimit.New(deps.DB, deps.Redis, log, s.metrics, ratelimit.Config{Defaults: cfg.RateLimits, Namespace: cfg.Namespace})
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(withRequestID, s.logRequests, s.recoverPanics, s.limitBody)
	r.NoRoute(func(c *gin.Context) {
		s.fail(c, problem.New(problem.NotFound, "route_not_found", "no route "+c.Request.Method+" "+c.Request.URL.Path+"; see /api/v1/openapi.yaml"))
	})
	r.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "method_not_allowed",
			Message: c.Request.Method + " is not allowed on " + c.Request.URL.Path + "; see /api/v1/openapi.yaml"}})
	})
	s.router = r
	s.routes()
	return s
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.router }

// Routes lists every registered method and path, for tests and docs.
func (s *Server) Routes() gin.RoutesInfo { return s.router.Routes() }

func (s *Server) routes() {
	r := s.router
	r.GET("/", s.root)
	r.GET("/health/live", s.live)
	r.GET("/health/ready", s.ready)
	r.GET("/metrics", s.serveMetrics())
	s.consoleRoutes(r)

	v1 := r.Group("/api/v1")
	v1.GET("/openapi.yaml", s.openAPI)

	auth := v1.Group("/auth", s.rateLimitByIP)
	auth.POST("/signup", s.signup)
	auth.POST("/login", s.login)
	auth.POST("/refresh", s.refresh)
	auth.POST("/token", s.token)
	auth.GET("/setup-status", s.setupStatus)
	auth.POST("/setup", s.setup)
	auth.POST("/logout", s.authenticate, s.logout)
	auth.GET("/me", s.authenticate, s.me)

	// Providers call back unauthenticated; the signature is checked.
	v1.POST("/providers/:provider/webhook", s.rateLimitCallbacks, s.providerWebhook)

	in := v1.Group("", s.authenticate, s.rateLimit)
	viewer := s.requireRole(identity.RoleViewer)
	editor := s.requireRole(identity.RoleEditor)
	admin := s.requireRole(identity.RoleAdmin)

	in.GET("/users", admin, s.listUsers)
	in.POST("/users", admin, s.idempotent, s.createUser)
	in.GET("/users/:id", admin, s.getUser)
	in.PATCH("/users/:id", admin, s.updateUser)
	in.DELETE("/users/:id", admin, s.deleteUser)

	in.GET("/api-keys", admin, s.listAPIKeys)
	in.POST("/api-keys", admin, s.idempotent, s.createAPIKey)
	in.GET("/api-keys/:id", admin, s.getAPIKey)
	in.DELETE("/api-keys/:id", admin, s.deleteAPIKey)

	in.GET("/service-accounts", admin, s.listServiceAccounts)
	in.POST("/service-accounts", admin, s.idempotent, s.createServiceAccount)
	in.GET("/service-accounts/:id", admin, s.getServiceAccount)
	in.PATCH("/service-accounts/:id", admin, s.updateServiceAccount)
	in.DELETE("/service-accounts/:id", admin, s.deleteServiceAccount)
	in.POST("/service-accounts/:id/rotate-secret", admin, s.rotateServiceAccountSecret)

	in.GET("/sites", viewer, s.listSites)
	in.POST("/sites", editor, s.idempotent, s.createSite)
	in.GET("/sites/:site", viewer, s.getSite)
	in.PATCH("/sites/:site", editor, s.updateSite)
	in.DELETE("/sites/:site", editor, s.deleteSite)

	in.GET("/sites/:site/posts", viewer, s.listPosts)
	in.POST("/sites/:site/posts", editor, s.idempotent, s.createPost)
	in.GET("/sites/:site/posts/:id", viewer, s.getPost)
	in.PATCH("/sites/:site/posts/:id", editor, s.updatePost)
	in.DELETE("/sites/:site/posts/:id", editor, s.deletePost)
	in.POST("/sites/:site/posts/from-url", editor, s.idempotent, s.postFromURL)
	in.POST("/sites/:site/posts/from-pdf", editor, s.postFromPDF) // idempotent inside: JSON or multipart
	in.POST("/sites/:site/posts/:id/recrawl", editor, s.idempotent, s.recrawlPost)
	// Transform and SEO (content/transform, content/seo): the POSTs but
	// restore submit a job.
	in.POST("/sites/:site/posts/:id/transform", editor, s.idempotent, s.transformPost)
	in.GET("/sites/:site/posts/:id/revisions", viewer, s.listPostRevisions)
	in.POST("/sites/:site/posts/:id/revisions/:rev_id/restore", editor, s.idempotent, s.restorePostRevision)
	in.POST("/sites/:site/seo/generatetext", editor, s.idempotent, s.seoGenerateText)
	in.POST("/sites/:site/seo/analyze", editor, s.idempotent, s.seoAnalyze)

	// uploadRoute: its body may be as large as a media file, and it handles
	// Idempotency-Key itself.
	in.POST("/sites/:site/media", editor, s.uploadMedia)
	in.GET("/sites/:site/media", viewer, s.listMedia)
	in.GET("/sites/:site/media/:id", viewer, s.getMedia)
	in.PATCH("/sites/:site/media/:id", editor, s.updateMedia)
	in.DELETE("/sites/:site/media/:id", editor, s.deleteMedia)
	in.GET("/sites/:site/media/:id/view", viewer, s.viewMedia)
	in.POST("/sites/:site/media/generatevideo", editor, s.idempotent, s.generateVideo)
	// Media generation (content/generate): each submits a job.
	in.POST("/sites/:site/media/generate", editor, s.idempotent, s.generateImages)
	in.POST("/sites/:site/media/tts", editor, s.idempotent, s.textToSpeech)
	in.POST("/sites/:site/media/:id/edit-with-ai", editor, s.idempotent, s.editImageWithAI)
	in.POST("/sites/:site/media/:id/generate-metadata", editor, s.idempotent, s.generateMediaMetadata)
	in.GET("/sites/:site/media/:id/image-versions", viewer, s.listImageVersions)
	// Translations (content/translate): translate and sync submit a job.
	in.POST("/sites/:site/translations/posts/:id/translate", editor, s.idempotent, s.translate(s.postMaster))
	in.GET("/sites/:site/translations/posts/:id", viewer, s.listTranslations(s.postMaster))
	in.POST("/sites/:site/translations/posts/:id/sync-translations", editor, s.idempotent, s.syncTranslations(s.postMaster))
	in.POST("/sites/:site/translations/media/:id/translate", editor, s.idempotent, s.translate(s.mediaMaster))
	in.GET("/sites/:site/translations/media/:id", viewer, s.listTranslations(s.mediaMaster))
	in.POST("/sites/:site/translations/media/:id/sync-translations", editor, s.idempotent, s.syncTranslations(s.mediaMaster))

	in.GET("/job-kinds", viewer, s.listJobKinds)
	in.POST("/jobs", editor, s.idempotent, s.submitJob)
	in.POST("/jobs/estimate", viewer, s.estimateJob)
	in.GET("/jobs", viewer, s.listJobs)
	in.GET("/jobs/:id", viewer, s.getJob)
	in.GET("/jobs/:id/events", viewer, s.jobEvents)
	in.POST("/jobs/:id/cancel", editor, s.cancelJob)
	in.POST("/jobs/:id/retry", editor, s.idempotent, s.retryJob)
	in.GET("/jobs/:id/deliveries", viewer, s.listJobDeliveries)

	in.GET("/webhooks/secret", admin, s.getSigningSecret)
	in.POST("/webhooks/secret/rotate", admin, s.rotateSigningSecret)
	in.GET("/webhooks", admin, s.listWebhooks)
	in.POST("/webhooks", admin, s.idempotent, s.createWebhook)
	in.GET("/webhooks/:id", admin, s.getWebhook)
	in.PATCH("/webhooks/:id", admin, s.updateWebhook)
	in.DELETE("/webhooks/:id", admin, s.deleteWebhook)
	in.GET("/webhooks/:id/secret", admin, s.getWebhookSecret)
	in.POST("/webhooks/:id/rotate-secret", admin, s.rotateWebhookSecret)
	in.GET("/webhooks/:id/deliveries", admin, s.listWebhookDeliveries)
	in.GET("/webhook-deliveries/:id", viewer, s.getDelivery)
	in.POST("/webhook-deliveries/:id/redeliver", editor, s.redeliver)

	in.GET("/credits/balance", viewer, s.creditBalance)
	in.GET("/credits/transactions", viewer, s.creditTransactions)
	in.PUT("/credits/monthly-limit", s.requireRole(identity.RoleOwner), s.setMonthlyLimit)

	in.GET("/rate-limits", viewer, s.rateLimits)

	// Knowledge bases and agents (package rag). The document route takes
	// JSON or a PDF upload (kbDocumentsRoute) and handles Idempotency-Key
	// itself.
	kbs := in.Group("", s.needRAG)
	kbs.GET("/knowledge-bases", viewer, s.listKnowledgeBases)
	kbs.POST("/knowledge-bases", editor, s.idempotent, s.createKnowledgeBase)
	kbs.GET("/knowledge-bases/:id", viewer, s.getKnowledgeBase)
	kbs.PATCH("/knowledge-bases/:id", editor, s.updateKnowledgeBase)
	kbs.DELETE("/knowledge-bases/:id", editor, s.deleteKnowledgeBase)
	kbs.GET("/knowledge-bases/:id/documents", viewer, s.listDocuments)
	kbs.POST("/knowledge-bases/:id/documents", editor, s.addDocument)
	kbs.GET("/knowledge-bases/:id/documents/:doc_id", viewer, s.getDocument)
	kbs.PATCH("/knowledge-bases/:id/documents/:doc_id", editor, s.updateDocument)
	kbs.DELETE("/knowledge-bases/:id/documents/:doc_id", editor, s.deleteDocument)
	kbs.POST("/knowledge-bases/:id/reindex", editor, s.idempotent, s.reindexKnowledgeBase)
	kbs.POST("/knowledge-bases/:id/search", viewer, s.searchKnowledgeBase)

	kbs.GET("/agents", viewer, s.listAgents)
	kbs.POST("/agents", editor, s.idempotent, s.createAgent)
	kbs.GET("/agents/:id", viewer, s.getAgent)
	kbs.PATCH("/agents/:id", editor, s.updateAgent)
	kbs.DELETE("/agents/:id", editor, s.deleteAgent)
	kbs.POST("/agents/:id/search", viewer, s.searchAgent)
	kbs.GET("/agents/:id/knowledge-base", viewer, s.listAgentDocuments)
	kbs.POST("/agents/:id/knowledge-base/from-post/:post_id", editor, s.idempotent, s.agentDocumentFromPost)
	kbs.DELETE("/agents/:id/knowledge-base/:doc_id", editor, s.deleteAgentDocument)
	kbs.POST("/agents/knowledge-base/:doc_id/compute-rag-index", editor, s.idempotent, s.computeRAGIndex)

	set := in.Group("", s.needSettings)
	set.GET("/settings/integrations", admin, s.listIntegrations)
	set.POST("/settings/integrations/test", admin, s.checkIntegration)
	set.GET("/settings/integrations/:provider", admin, s.getIntegration)
	set.PUT("/settings/integrations/:provider", admin, s.putIntegration)
	set.DELETE("/settings/integrations/:provider", admin, s.deleteIntegration)
	set.GET("/system-prompts", viewer, s.listSystemPrompts)
	set.GET("/system-prompts/:type", viewer, s.getSystemPrompt)
	set.PUT("/system-prompts/:type", admin, s.putSystemPrompt)
	set.DELETE("/system-prompts/:type", admin, s.deleteSystemPrompt)

	pa := v1.Group("/admin", s.authenticate, s.requirePlatformAdmin, s.rateLimit)
	pa.GET("/tenants", s.listTenants)
	pa.POST("/tenants", s.idempotent, s.createTenant)
	pa.GET("/tenants/:id", s.getTenant)
	pa.PATCH("/tenants/:id", s.updateTenant)
	pa.POST("/tenants/:id/suspend", s.suspendTenant)
	pa.POST("/tenants/:id/resume", s.resumeTenant)
	pa.POST("/tenants/:id/credits", s.grantCredits)
	pa.GET("/tenants/:id/rate-limits", s.tenantRateLimits)
	pa.PUT("/tenants/:id/rate-limits", s.setTenantRateLimits)
	pa.GET("/monitoring/system-health", s.systemHealth)
	pa.GET("/monitoring/queue-stats", s.queueStats)
	pa.GET("/monitoring/performance-metrics", s.performanceMetrics)
	pa.GET("/monitoring/rate-limit-stats", s.rateLimitStats)
	pa.GET("/costs", s.getCosts)
	pa.PUT("/costs", s.putCosts)
}
