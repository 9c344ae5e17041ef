// SPDX-License-Identifier: GPL-2.0
/*
 * The compression cache's store: a page that LZ4 shrinks to at most
 * ESXMEM_COMPRESS_MAX_BYTES is kept in one zsmalloc pool shared by every
 * VM (ESX keeps pages that compress to half a page or less; the rest are
 * not worth the CPU and go to swap). The pool's own pages are charged to
 * esxmem's machine-memory pool, so compression saves exactly what it
 * reports, and the store grows only as far as the pool allows (a page
 * that does not fit goes to swap or stays). Callers may sleep: one work
 * area, serialized by a mutex.
 *
 * zsmalloc also frees pages on its own, with no call here: its shrinker
 * compacts the pool, and zs_free() may defer freeing a zspage. The
 * reclaim thread calls esxmem_zstore_resync() so that such pages go back
 * to the pool, and waiting faults get them, without waiting for the next
 * store or free.
 */
#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/lz4.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/zsmalloc.h>

#include "esxmem.h"

static struct {
	struct zs_pool *pool;
	struct mutex lock;		/* the buffers, @charged */
	void *workmem;
	void *out;
	unsigned long charged;		/* zsmalloc pages charged to the pool */
	atomic64_t bytes;		/* compressed bytes held */
} zstore = {
	.lock = __MUTEX_INITIALIZER(zstore.lock),
};

/*
 * Charges the pool for zsmalloc's pages as they come and go. Growth may
 * take the pool over its size by ESXMEM_ZSTORE_BEYOND_PAGES at most;
 * returns false, charging nothing, when it would go further.
 */
static bool recharge(void)
{
	unsigned long pages = zs_get_total_pages(zstore.pool);

	lockdep_assert_held(&zstore.lock);
	if (pages > zstore.charged) {
		if (!esxmem_pool_charge_beyond(pages - zstore.charged,
					       ESXMEM_ZSTORE_BEYOND_PAGES))
			return false;
	} else {
		esxmem_pool_uncharge(zstore.charged - pages);
	}
	WRITE_ONCE(zstore.charged, pages);
	return true;
}

/* Charges the pool for what zsmalloc holds now; see the top of the file. */
void esxmem_zstore_resync(void)
{
	if (!zstore.pool || !mutex_trylock(&zstore.lock))
		return;
	recharge();
	mutex_unlock(&zstore.lock);
}

/*
 * Stores @page; returns 0 and its handle, -E2BIG when the page does not
 * compress well enough, or -ENOMEM (also when the store may not grow).
 */
int esxmem_zstore_put(struct page *page, unsigned long *handle)
{
	unsigned long h;
	void *src, *dst;
	int len;

	mutex_lock(&zstore.lock);
	src = kmap_local_page(page);
	len = LZ4_compress_default(src, zstore.out, PAGE_SIZE,
				   LZ4_COMPRESSBOUND(PAGE_SIZE),
				   zstore.workmem);
	kunmap_local(src);
	if (len <= 0 || len > ESXMEM_COMPRESS_MAX_BYTES) {
		mutex_unlock(&zstore.lock);
		return -E2BIG;
	}
	/* zsmalloc does not keep an object's size: it goes first. */
	h = zs_malloc(zstore.pool, sizeof(u16) + len,
		      GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
	if (IS_ERR_VALUE(h) || !h) {
		mutex_unlock(&zstore.lock);
		return -ENOMEM;
	}
	dst = zs_map_object(zstore.pool, h, ZS_MM_WO);
	*(u16 *)dst = len;
	memcpy(dst + sizeof(u16), zstore.out, len);
	zs_unmap_object(zstore.pool, h);
	if (!recharge()) {
		/* Frees the zspage that was made for it, if one was. */
		zs_free(zstore.pool, h);
		recharge();
		mutex_unlock(&zstore.lock);
		return -ENOMEM;
	}
	mutex_unlock(&zstore.lock);
	atomic64_add(len, &zstore.bytes);
	*handle = h;
	return 0;
}

/* Decompresses @handle into @page; the handle stays until freed. */
int esxmem_zstore_get(unsigned long handle, struct page *page)
{
	void *src, *dst;
	int n;

	src = zs_map_object(zstore.pool, handle, ZS_MM_RO);
	dst = kmap_local_page(page);
	n = LZ4_decompress_safe(src + sizeof(u16), dst, *(u16 *)src,
				PAGE_SIZE);
	kunmap_local(dst);
	zs_unmap_object(zstore.pool, handle);
	return n == PAGE_SIZE ? 0 : -EIO;
}

void esxmem_zstore_free(unsigned long handle)
{
	void *obj;
	u16 len;

	mutex_lock(&zstore.lock);
	obj = zs_map_object(zstore.pool, handle, ZS_MM_RO);
	len = *(u16 *)obj;
	zs_unmap_object(zstore.pool, handle);
	zs_free(zstore.pool, handle);
	recharge();
	mutex_unlock(&zstore.lock);
	atomic64_sub(len, &zstore.bytes);
}

u64 esxmem_zstore_bytes(void)
{
	return atomic64_read(&zstore.bytes);
}

unsigned long esxmem_zstore_pages(void)
{
	return READ_ONCE(zstore.charged);
}

int esxmem_zstore_init(void)
{
	zstore.workmem = kvmalloc(LZ4_MEM_COMPRESS, GFP_KERNEL);
	/* Room for LZ4's worst case, so compression never overruns. */
	zstore.out = kvmalloc(LZ4_COMPRESSBOUND(PAGE_SIZE), GFP_KERNEL);
	zstore.pool = zs_create_pool("esxmem");
	if (!zstore.workmem || !zstore.out || !zstore.pool) {
		esxmem_zstore_exit();
		return -ENOMEM;
	}
	return 0;
}

/* Every VM is gone, and with it every handle. */
void esxmem_zstore_exit(void)
{
	if (zstore.pool)
		zs_destroy_pool(zstore.pool);
	zstore.pool = NULL;
	kvfree(zstore.out);
	kvfree(zstore.workmem);
}
