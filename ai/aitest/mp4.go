package aitest

import (
	"encoding/binary"
	"math/bits"
)

// This file writes a small but real MP4: one H.264 video track
// (Constrained Baseline, level 3.0) at 1 frame per second, each frame an
// IDR picture of I_PCM macroblocks (raw samples, no transform), so no
// encoder is needed and any player or ffprobe accepts it. The layout is
// ftyp, moov (mvhd, trak), mdat.

// videoFPS is the frame rate of generated videos.
const videoFPS = 1

// videoMP4 returns an MP4 of width x height (both even) lasting secs
// seconds, its frames coloured from seed.
func videoMP4(width, height, secs int, seed uint64) []byte {
	mbW, mbH := (width+15)/16, (height+15)/16
	sps := spsNAL(mbW, mbH, (mbW*16-width)/2, (mbH*16-height)/2)
	pps := ppsNAL()
	frames := max(1, secs*videoFPS)
	samples := make([][]byte, frames)
	for i := range samples {
		c := seed>>(8*(i%5)) ^ uint64(i)*0x9E3779B97F4A7C15
		slice := idrSliceNAL(mbW*mbH, i, 16+byte(c%200), 64+byte((c>>8)%128), 64+byte((c>>16)%128))
		samples[i] = binary.BigEndian.AppendUint32(nil, uint32(len(slice)))
		samples[i] = append(samples[i], slice...)
	}
	ftyp := box("ftyp", []byte("isom"), u32(0x200), []byte("isomiso2avc1mp41"))
	moov := func(offset uint32) []byte {
		return moovBox(width, height, frames, sps, pps, samples, offset)
	}
	// The moov size does not depend on the offset value, so measure once.
	offset := uint32(len(ftyp) + len(moov(0)) + 8)
	mdat := box("mdat", samples...)
	out := append(ftyp, moov(offset)...)
	return append(out, mdat...)
}

func moovBox(width, height, frames int, sps, pps []byte, samples [][]byte, offset uint32) []byte {
	const timescale = 1000
	dur := uint32(frames * timescale / videoFPS)
	mvhd := fullBox("mvhd", 0, 0, u32(0, 0, timescale, dur, 0x00010000), u16(0x0100, 0), u32(0, 0),
		unityMatrix(), u32(0, 0, 0, 0, 0, 0, 2))
	tkhd := fullBox("tkhd", 0, 3, u32(0, 0, 1, 0, dur, 0, 0), u16(0, 0, 0, 0), unityMatrix(),
		u32(uint32(width)<<16, uint32(height)<<16))
	mdhd := fullBox("mdhd", 0, 0, u32(0, 0, timescale, dur), u16(0x55C4, 0)) // language "und"
	hdlr := fullBox("hdlr", 0, 0, u32(0), []byte("vide"), u32(0, 0, 0), []byte("VideoHandler\x00"))
	vmhd := fullBox("vmhd", 0, 1, u16(0, 0, 0, 0))
	dinf := box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)))
	sizes := make([]uint32, len(samples))
	for i, s := range samples {
		sizes[i] = uint32(len(s))
	}
	stbl := box("stbl",
		fullBox("stsd", 0, 0, u32(1), avc1Box(width, height, sps, pps)),
		fullBox("stts", 0, 0, u32(1, uint32(frames), timescale/videoFPS)),
		fullBox("stsc", 0, 0, u32(1, 1, uint32(frames), 1)),
		fullBox("stsz", 0, 0, u32(0, uint32(frames)), u32(sizes...)),
		fullBox("stco", 0, 0, u32(1, offset)),
	)
	minf := box("minf", vmhd, dinf, stbl)
	trak := box("trak", tkhd, box("mdia", mdhd, hdlr, minf))
	return box("moov", mvhd, trak)
}

// avc1Box is the visual sample entry with its avcC decoder configuration.
func avc1Box(width, height int, sps, pps []byte) []byte {
	compressor := make([]byte, 32)
	compressor[0] = byte(copy(compressor[1:], "aitest I_PCM"))
	avcC := box("avcC", []byte{1, sps[1], sps[2], sps[3], 0xFF, 0xE1}, u16(uint16(len(sps))), sps,
		[]byte{1}, u16(uint16(len(pps))), pps)
	return box("avc1", make([]byte, 6), u16(1, 0, 0), u32(0, 0, 0), u16(uint16(width), uint16(height)),
		u32(0x00480000, 0x00480000, 0), u16(1), compressor, u16(0x0018, 0xFFFF), avcC)
}

func unityMatrix() []byte {
	return u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
}

// box returns an ISO BMFF box of type typ holding parts.
func box(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, n), uint32(n))
	b = append(b, typ...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// fullBox is a box with a version and 24 bits of flags.
func fullBox(typ string, version byte, flags uint32, parts ...[]byte) []byte {
	hdr := []byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}
	return box(typ, append([][]byte{hdr}, parts...)...)
}

func u32(vs ...uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func u16(vs ...uint16) []byte {
	b := make([]byte, 0, 2*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

// spsNAL is the sequence parameter set: Constrained Baseline, level 3.0,
// picture order count type 2, mbW x mbH macroblocks cropped on the right
// and bottom by cropR and cropB (in units of 2 pixels).
func spsNAL(mbW, mbH, cropR, cropB int) []byte {
	b := &bitWriter{}
	b.u(66, 8)   // profile_idc: Baseline
	b.u(0xC0, 8) // constraint_set0 and set1: Constrained Baseline
	b.u(30, 8)   // level_idc 3.0
	b.ue(0)      // seq_parameter_set_id
	b.ue(0)      // log2_max_frame_num_minus4
	b.ue(2)      // pic_order_cnt_type
	b.ue(1)      // max_num_ref_frames
	b.u(0, 1)    // gaps_in_frame_num_value_allowed_flag
	b.ue(uint(mbW - 1))
	b.ue(uint(mbH - 1))
	b.u(1, 1) // frame_mbs_only_flag
	b.u(1, 1) // direct_8x8_inference_flag
	if cropR > 0 || cropB > 0 {
		b.u(1, 1)
		b.ue(0)
		b.ue(uint(cropR))
		b.ue(0)
		b.ue(uint(cropB))
	} else {
		b.u(0, 1)
	}
	b.u(0, 1) // vui_parameters_present_flag
	b.trailing()
	return nal(0x67, b.buf)
}

// ppsNAL is the picture parameter set: CAVLC, one slice group, QP 26.
func ppsNAL() []byte {
	b := &bitWriter{}
	b.ue(0)   // pic_parameter_set_id
	b.ue(0)   // seq_parameter_set_id
	b.u(0, 1) // entropy_coding_mode_flag: CAVLC
	b.u(0, 1) // bottom_field_pic_order_in_frame_present_flag
	b.ue(0)   // num_slice_groups_minus1
	b.ue(0)   // num_ref_idx_l0_default_active_minus1
	b.ue(0)   // num_ref_idx_l1_default_active_minus1
	b.u(0, 1) // weighted_pred_flag
	b.u(0, 2) // weighted_bipred_idc
	b.se(0)   // pic_init_qp_minus26
	b.se(0)   // pic_init_qs_minus26
	b.se(0)   // chroma_qp_index_offset
	b.u(0, 1) // deblocking_filter_control_present_flag
	b.u(0, 1) // constrained_intra_pred_flag
	b.u(0, 1) // redundant_pic_cnt_present_flag
	b.trailing()
	return nal(0x68, b.buf)
}

// idrSliceNAL is one IDR picture of mbs I_PCM macroblocks of one colour.
func idrSliceNAL(mbs, idrID int, y, cb, cr byte) []byte {
	b := &bitWriter{}
	b.ue(0)                   // first_mb_in_slice
	b.ue(7)                   // slice_type: I (all slices)
	b.ue(0)                   // pic_parameter_set_id
	b.u(0, 4)                 // frame_num
	b.ue(uint(idrID % 65536)) // idr_pic_id, differing between neighbours
	b.u(0, 1)                 // no_output_of_prior_pics_flag
	b.u(0, 1)                 // long_term_reference_flag
	b.se(0)                   // slice_qp_delta
	for range mbs {
		b.ue(25) // mb_type I_PCM
		b.alignZero()
		for range 256 {
			b.u(uint64(y), 8)
		}
		for range 64 {
			b.u(uint64(cb), 8)
		}
		for range 64 {
			b.u(uint64(cr), 8)
		}
	}
	b.trailing()
	return nal(0x65, b.buf)
}

// nal returns a NAL unit: its header byte, then the payload with emulation
// prevention bytes inserted.
func nal(header byte, rbsp []byte) []byte {
	out := []byte{header}
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// bitWriter writes an H.264 RBSP bit by bit.
type bitWriter struct {
	buf []byte
	acc byte
	n   int
}

func (b *bitWriter) bit(x byte) {
	b.acc = b.acc<<1 | x&1
	if b.n++; b.n == 8 {
		b.buf = append(b.buf, b.acc)
		b.acc, b.n = 0, 0
	}
}

// u writes the low n bits of v, most significant first.
func (b *bitWriter) u(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		b.bit(byte(v >> i))
	}
}

// ue writes v as unsigned Exp-Golomb.
func (b *bitWriter) ue(v uint) {
	v1 := uint64(v) + 1
	n := bits.Len64(v1)
	b.u(0, n-1)
	b.u(v1, n)
}

// se writes v as signed Exp-Golomb.
func (b *bitWriter) se(v int) {
	if v > 0 {
		b.ue(uint(2*v - 1))
	} else {
		b.ue(uint(-2 * v))
	}
}

// alignZero pads with zero bits to a byte boundary.
func (b *bitWriter) alignZero() {
	for b.n != 0 {
		b.bit(0)
	}
}

// trailing writes rbsp_trailing_bits: a one, then zeros to the boundary.
func (b *bitWriter) trailing() {
	b.bit(1)
	b.alignZero()
}
