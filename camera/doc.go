// Package camera provides frame sources (checkpoint.Source): replayed image
// files, a Raspberry Pi camera through rpicam-vid, and V4L2/GStreamer
// cameras through gocv (build tag gocv). Every live source keeps only the
// newest frame in a Mailbox; frames the consumer had no time for are
// dropped and counted.
//
// Frames returned by Next are read-only and valid until the next call to
// Next.
package camera
