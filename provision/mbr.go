package provision

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SectorSize is the sector size of SD cards and their images.
const SectorSize = 512

// Partition is one primary partition of an MBR (DOS) partition table.
type Partition struct {
	Index int   // 1..4, as in /dev/mmcblk0p1
	Type  byte  // MBR partition type, 0x0c for FAT32 LBA, 0x83 for Linux
	Start int64 // byte offset from the start of the image
	Size  int64 // bytes
}

// IsFAT reports whether the partition type is one of the FAT types.
func (p Partition) IsFAT() bool {
	switch p.Type {
	case 0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e:
		return true
	}
	return false
}

// ReadPartitions reads the primary partitions of the MBR partition table at
// the start of r; empty slots are left out.
func ReadPartitions(r io.ReaderAt) ([]Partition, error) {
	var mbr [SectorSize]byte
	if _, err := r.ReadAt(mbr[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("shorter than one sector: not a disk image")
		}
		return nil, fmt.Errorf("read partition table: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return nil, errors.New("no MBR partition table (boot signature 55 aa missing)")
	}
	var parts []Partition
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i : 446+16*(i+1)]
		typ := e[4]
		if typ == 0 {
			continue
		}
		if typ == 0xee {
			return nil, errors.New("GPT partition table: only MBR (DOS) tables, as on Raspberry Pi OS images, are supported")
		}
		start := int64(binary.LittleEndian.Uint32(e[8:12])) * SectorSize
		size := int64(binary.LittleEndian.Uint32(e[12:16])) * SectorSize
		if size == 0 {
			continue
		}
		parts = append(parts, Partition{Index: i + 1, Type: typ, Start: start, Size: size})
	}
	if len(parts) == 0 {
		return nil, errors.New("partition table has no partitions")
	}
	return parts, nil
}

// BootPartition returns the first FAT partition: Raspberry Pi OS's boot
// partition, mounted at /boot/firmware.
func BootPartition(parts []Partition) (Partition, error) {
	for _, p := range parts {
		if p.IsFAT() {
			return p, nil
		}
	}
	return Partition{}, errors.New("no FAT boot partition in the partition table")
}
