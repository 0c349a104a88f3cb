// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * CRC32C (Castagnoli), the checksum of the DMA engine's CSUM operation,
 * computed on the CPU so that callers can check the device's answer.
 * Bitwise: it checks results, it is not on any fast path.
 */
#include "vfiosim.h"

#define CRC32C_POLY_REFLECTED	0x82f63b78u

uint32_t vfiosim_crc32c(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t crc = ~0u;
	int bit;

	while (len--) {
		crc ^= *p++;
		for (bit = 0; bit < 8; bit++)
			crc = crc >> 1 ^ (CRC32C_POLY_REFLECTED & -(crc & 1));
	}
	return ~crc;
}
