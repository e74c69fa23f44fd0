package web

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"checkpoint"
)

// metrics are the series the server itself counts; the rest are read from
// the other parts' counters at each scrape (statsCollector).
type metrics struct {
	decode   prometheus.Histogram
	verdicts [3]prometheus.Counter // by checkpoint.Color
}

// newMetrics builds the server's private registry.
func newMetrics(s *Server) (*prometheus.Registry, *metrics) {
	reg := prometheus.NewRegistry()
	m := &metrics{
		decode: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "checkpoint_decode_seconds",
			Help:    "Time to decode one frame.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 12), // 1 ms to 2 s
		}),
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "checkpoint_verdicts_total",
		Help: "Verdicts given, by colour.",
	}, []string{"color"})
	for c := checkpoint.Red; c <= checkpoint.Green; c++ {
		m.verdicts[c] = vec.WithLabelValues(c.String())
	}
	reg.MustRegister(m.decode, vec, newStatsCollector(s),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, m
}

// statsCollector reads the counters of the scanner, camera, cache and sync
// at each scrape; parts that are absent give no series.
type statsCollector struct {
	s               *Server
	descFrames      *prometheus.Desc
	descSymbols     *prometheus.Desc
	descRepeats     *prometheus.Desc
	descFaults      *prometheus.Desc
	descFrameAge    *prometheus.Desc
	descIdle        *prometheus.Desc
	descCamFrames   *prometheus.Desc
	descDropped     *prometheus.Desc
	descRestarts    *prometheus.Desc
	descFeedAge     *prometheus.Desc
	descStale       *prometheus.Desc
	descVersion     *prometheus.Desc
	descSyncErrors  *prometheus.Desc
	descSyncSuccess *prometheus.Desc
	descFirmware    *prometheus.Desc
	descStreams     *prometheus.Desc
	descPreview     *prometheus.Desc
}

// newStatsCollector describes the series read from counters.
func newStatsCollector(s *Server) *statsCollector {
	return &statsCollector{
		s:               s,
		descFrames:      prometheus.NewDesc("checkpoint_frames_total", "Frames decoded by the scanner.", nil, nil),
		descSymbols:     prometheus.NewDesc("checkpoint_symbols_total", "Codes decoded.", nil, nil),
		descRepeats:     prometheus.NewDesc("checkpoint_repeats_total", "Sightings suppressed by the cooldown.", nil, nil),
		descFaults:      prometheus.NewDesc("checkpoint_camera_faults_total", "Times the camera stalled.", nil, nil),
		descFrameAge:    prometheus.NewDesc("checkpoint_frame_age_seconds", "Time since the newest frame.", nil, nil),
		descIdle:        prometheus.NewDesc("checkpoint_idle_mode", "The idle mode (1 for the current one).", []string{"mode"}, nil),
		descCamFrames:   prometheus.NewDesc("checkpoint_camera_frames_total", "Frames captured by the camera.", nil, nil),
		descDropped:     prometheus.NewDesc("checkpoint_camera_dropped_frames_total", "Frames dropped because the scanner was busy.", nil, nil),
		descRestarts:    prometheus.NewDesc("checkpoint_camera_restarts_total", "Times the camera device or process was reopened.", nil, nil),
		descFeedAge:     prometheus.NewDesc("checkpoint_feed_age_seconds", "Age of the newest verified feed data (absent before the first sync).", nil, nil),
		descStale:       prometheus.NewDesc("checkpoint_cache_stale", "1 when the status cache is stale.", nil, nil),
		descVersion:     prometheus.NewDesc("checkpoint_feed_version", "Feed version applied to the cache.", nil, nil),
		descSyncErrors:  prometheus.NewDesc("checkpoint_sync_errors_total", "Failed sync attempts.", nil, nil),
		descSyncSuccess: prometheus.NewDesc("checkpoint_sync_last_success_timestamp_seconds", "Time of the last successful sync.", nil, nil),
		descFirmware:    prometheus.NewDesc("checkpoint_firmware_rolled_back", "Firmware versions rolled back on this gate (never taken again).", nil, nil),
		descStreams:     prometheus.NewDesc("checkpoint_web_streams", "Open event streams of the operator screen.", nil, nil),
		descPreview:     prometheus.NewDesc("checkpoint_preview_frames_total", "Frames copied for the camera preview.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descFrames, c.descSymbols, c.descRepeats, c.descFaults, c.descFrameAge,
		c.descIdle, c.descCamFrames, c.descDropped, c.descRestarts, c.descFeedAge, c.descStale, c.descVersion,
		c.descSyncErrors, c.descSyncSuccess, c.descFirmware, c.descStreams, c.descPreview} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	now := s.clock.Now()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if sc := s.opts.Scanner; sc != nil {
		st := sc.Stats()
		counter(c.descFrames, st.Frames)
		counter(c.descSymbols, st.Symbols)
		counter(c.descRepeats, st.Repeats)
		counter(c.descFaults, st.Faults)
		for m := checkpoint.IdleReady; m <= checkpoint.IdleFault; m++ {
			v := 0.0
			if m == st.Idle {
				v = 1
			}
			gauge(c.descIdle, v, m.String())
		}
	}
	if cam := s.opts.Camera; cam != nil {
		st := cam.Stats()
		counter(c.descCamFrames, st.Frames)
		counter(c.descDropped, st.Dropped)
		counter(c.descRestarts, st.Restarts)
	}
	if last, known := s.lastFrame(); known && !last.IsZero() {
		gauge(c.descFrameAge, max(now.Sub(last), 0).Seconds())
	}
	if cache := s.opts.Cache; cache != nil {
		if ft := cache.FeedTime(); !ft.IsZero() {
			gauge(c.descFeedAge, max(now.Sub(ft), 0).Seconds())
		}
		stale := 0.0
		if cache.Stale(now) {
			stale = 1
		}
		gauge(c.descStale, stale)
	}
	if v, ok := s.opts.Cache.(Versioner); ok && s.opts.Sync == nil {
		gauge(c.descVersion, float64(v.Version()))
	}
	if s.opts.Sync != nil {
		st := s.opts.Sync()
		gauge(c.descVersion, float64(st.Version))
		counter(c.descSyncErrors, st.Errors)
		gauge(c.descFirmware, float64(st.FirmwareFailures))
		if !st.LastSuccess.IsZero() {
			gauge(c.descSyncSuccess, float64(st.LastSuccess.UnixNano())/1e9)
		}
	}
	gauge(c.descStreams, float64(s.streams()))
	counter(c.descPreview, s.preview.copies.Load())
}
