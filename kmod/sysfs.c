// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mm/esxmem/: the pool's knobs and global counters, one value
 * per file. Documented in doc/ABI/sysfs-kernel-mm-esxmem.
 * A rejected write returns -EINVAL and changes nothing.
 */
#include <linux/kernfs.h>
#include <linux/kobject.h>
#include <linux/kstrtox.h>
#include <linux/mm.h>
#include <linux/sysfs.h>

#include "esxmem.h"

static struct kobject *esxmem_kobj;

#define COUNTER_ATTR(_name, _expr)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%ld\n", (long)(_expr));			\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RO(_name)

COUNTER_ATTR(used_pages, atomic_long_read(&esxmem_pool.used));
COUNTER_ATTR(free_pages, esxmem_pool_free_pages());
COUNTER_ATTR(objects, esxmem_vm_count());
COUNTER_ATTR(faults, atomic_long_read(&esxmem_pool.faults));
COUNTER_ATTR(cow_breaks, atomic_long_read(&esxmem_pool.cow_breaks));
COUNTER_ATTR(fault_waits, atomic_long_read(&esxmem_pool.fault_waits));
COUNTER_ATTR(fault_wait_timeouts,
	     atomic_long_read(&esxmem_pool.fault_wait_timeouts));
COUNTER_ATTR(alloc_failures, atomic_long_read(&esxmem_pool.alloc_failures));
COUNTER_ATTR(state_changes, atomic_long_read(&esxmem_pool.state_changes));
COUNTER_ATTR(held_pages, esxmem_held_pages());
COUNTER_ATTR(large_pages_in_use, atomic_long_read(&esxmem_large.in_use));
COUNTER_ATTR(large_page_allocs, atomic_long_read(&esxmem_large.allocs));
COUNTER_ATTR(large_page_fallbacks, atomic_long_read(&esxmem_large.fallbacks));
COUNTER_ATTR(large_page_breaks, atomic_long_read(&esxmem_large.breaks));
COUNTER_ATTR(large_page_underused_breaks,
	     atomic_long_read(&esxmem_large.underused_breaks));
COUNTER_ATTR(large_page_break_failures,
	     atomic_long_read(&esxmem_large.break_failures));

static ssize_t choice_show(char *buf, const char *const *names,
			   unsigned int n, unsigned int cur);
static int choice_parse(const char *buf, const char *const *names,
			unsigned int n);

/*
 * A knob that takes one of the names in array @_names: @_get is the index
 * in force, @_set(index) sets it, 0 or -errno.
 */
#define CHOICE_ATTR(_name, _names, _get, _set)				\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return choice_show(buf, _names, ARRAY_SIZE(_names), (_get));	\
}									\
static ssize_t _name##_store(struct kobject *kobj,			\
			     struct kobj_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	int v = choice_parse(buf, _names, ARRAY_SIZE(_names));		\
	int err;							\
									\
	if (v < 0)							\
		return v;						\
	err = _set(v);							\
	return err ?: count;						\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RW_MODE(_name, 0644)

static const char *const large_pages_names[] = { "never", "always" };

/* New guest RAM only: large pages in place stay until broken or freed. */
static int set_large_pages(int v)
{
	WRITE_ONCE(esxmem_large.enabled, v);
	return 0;
}

CHOICE_ATTR(large_pages, large_pages_names, READ_ONCE(esxmem_large.enabled),
	    set_large_pages);

static ssize_t large_max_zero_pieces_show(struct kobject *kobj,
					  struct kobj_attribute *attr,
					  char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(esxmem_large.max_zero_pieces));
}

/* 0 to 512; 512 keeps every large page however empty. */
static ssize_t large_max_zero_pieces_store(struct kobject *kobj,
					   struct kobj_attribute *attr,
					   const char *buf, size_t count)
{
	unsigned int v;

	if (kstrtouint(buf, 10, &v) || v > ESXMEM_LARGE_PAGES)
		return -EINVAL;
	WRITE_ONCE(esxmem_large.max_zero_pieces, v);
	return count;
}

static struct kobj_attribute large_max_zero_pieces_attr =
	__ATTR_RW_MODE(large_max_zero_pieces, 0644);

static ssize_t state_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  esxmem_state_name(READ_ONCE(esxmem_pool.state)));
}
static struct kobj_attribute state_attr = __ATTR_RO(state);

static ssize_t pool_pages_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(esxmem_pool.pages));
}

/* Read-modify-write of one knob; -EINVAL and no change when invalid. */
static ssize_t configure(void (*set)(struct esxmem_pool_config *c,
				     unsigned long v, unsigned long arg),
			 const char *buf, size_t count, unsigned long arg)
{
	struct esxmem_pool_config c;
	unsigned long v;
	int err;

	if (kstrtoul(buf, 10, &v))
		return -EINVAL;
	mutex_lock(&esxmem_pool_config_lock);
	esxmem_pool_get_config(&c);
	set(&c, v, arg);
	err = esxmem_pool_configure(&c);
	mutex_unlock(&esxmem_pool_config_lock);
	return err ? err : count;
}

static void set_pages(struct esxmem_pool_config *c, unsigned long v,
		      unsigned long arg)
{
	c->pages = v;
}

static void set_fault_wait_ms(struct esxmem_pool_config *c, unsigned long v,
			      unsigned long arg)
{
	/* Out of range stays out of range, for configure() to refuse. */
	c->fault_wait_ms = min_t(unsigned long, v, UINT_MAX);
}

static void set_permille(struct esxmem_pool_config *c, unsigned long v,
			 unsigned long state)
{
	c->permille.of[state] = min_t(unsigned long, v, UINT_MAX);
}

static ssize_t pool_pages_store(struct kobject *kobj,
				struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	return configure(set_pages, buf, count, 0);
}
static struct kobj_attribute pool_pages_attr = __ATTR_RW_MODE(pool_pages, 0644);

static ssize_t fault_wait_ms_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(esxmem_pool.fault_wait_ms));
}

static ssize_t fault_wait_ms_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	return configure(set_fault_wait_ms, buf, count, 0);
}
static struct kobj_attribute fault_wait_ms_attr =
	__ATTR_RW_MODE(fault_wait_ms, 0644);

#define PERMILLE_ATTR(_state, _name)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n",					\
			  READ_ONCE(esxmem_pool.permille.of[_state]));	\
}									\
static ssize_t _name##_store(struct kobject *kobj,			\
			     struct kobj_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	return configure(set_permille, buf, count, _state);		\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RW_MODE(_name, 0644)

PERMILLE_ATTR(ESXMEM_STATE_HIGH, state_high_permille);
PERMILLE_ATTR(ESXMEM_STATE_SOFT, state_soft_permille);
PERMILLE_ATTR(ESXMEM_STATE_HARD, state_hard_permille);
PERMILLE_ATTR(ESXMEM_STATE_LOW, state_low_permille);

/* share/: the page-sharing scanner's knobs and counters. */

COUNTER_ATTR(pages_shared, esxmem_share_frames());
COUNTER_ATTR(pages_sharing, atomic_long_read(&esxmem_share.sharing));
COUNTER_ATTR(zero_pages, esxmem_vm_sum_state(ESXMEM_PAGE_ZERO));
COUNTER_ATTR(hints, esxmem_share_hints());
COUNTER_ATTR(pages_scanned, atomic_long_read(&esxmem_share.pages_scanned));
COUNTER_ATTR(full_scans, atomic_long_read(&esxmem_share.full_scans));
COUNTER_ATTR(merges, atomic_long_read(&esxmem_share.merges));
COUNTER_ATTR(zero_merges, atomic_long_read(&esxmem_share.zero_merges));
COUNTER_ATTR(stale_hints, atomic_long_read(&esxmem_share.stale_hints));
COUNTER_ATTR(hints_dropped, atomic_long_read(&esxmem_share.hints_dropped));
COUNTER_ATTR(hints_evicted, atomic_long_read(&esxmem_share.hints_evicted));
COUNTER_ATTR(collisions, atomic_long_read(&esxmem_share.collisions));
COUNTER_ATTR(table_full, atomic_long_read(&esxmem_share.table_full));
COUNTER_ATTR(scan_cpu_us, esxmem_share_cpu_ns() / NSEC_PER_USEC);
COUNTER_ATTR(cpu_capped_us,
	     atomic64_read(&esxmem_share.cpu_capped_ns) / NSEC_PER_USEC);
COUNTER_ATTR(guest_pages, esxmem_vm_total_pages());
COUNTER_ATTR(metadata_bytes, esxmem_vm_total_pages() * sizeof(esxmem_pte_t) +
			     READ_ONCE(esxmem_share.table_bytes));

/* A knob of a kernel thread: an unsigned value in [min, max]; @_kick wakes it. */
#define THREAD_KNOB(_name, _var, _min, _max, _kick)			\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n", (unsigned int)READ_ONCE(_var));	\
}									\
static ssize_t _name##_store(struct kobject *kobj,			\
			     struct kobj_attribute *attr,		\
			     const char *buf, size_t count)		\
{									\
	unsigned int v;							\
									\
	if (kstrtouint(buf, 10, &v) || v < (_min) || v > (_max))	\
		return -EINVAL;						\
	WRITE_ONCE(_var, v);						\
	_kick();							\
	return count;							\
}									\
static struct kobj_attribute _name##_attr = __ATTR_RW_MODE(_name, 0644)

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(esxmem_share.enabled));
}

static ssize_t enabled_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	unsigned int v;
	int err;

	/* 2, as KSM's run: stop, and unmerge every shared page. */
	if (kstrtouint(buf, 10, &v) || v > 2)
		return -EINVAL;
	esxmem_share_set_enabled(v == 1);
	if (v < 2)
		return count;
	err = esxmem_share_unmerge_all(true);
	return err ?: count;
}
static struct kobj_attribute enabled_attr = __ATTR_RW_MODE(enabled, 0644);

static ssize_t isolate_vms_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(esxmem_share.isolate_vms));
}

/* Isolation holds for what is shared already, not only for new merges. */
static ssize_t isolate_vms_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	unsigned int v;
	int err;

	if (kstrtouint(buf, 10, &v) || v > 1)
		return -EINVAL;
	WRITE_ONCE(esxmem_share.isolate_vms, v);
	esxmem_share_kick();
	err = v ? esxmem_share_unmerge_all(false) : 0;
	return err ?: count;
}

static struct kobj_attribute isolate_vms_attr = __ATTR_RW_MODE(isolate_vms, 0644);

/*
 * A choice among names, shown as transparent_hugepage/enabled shows its
 * own: every name, the one in force in brackets.
 */
static ssize_t choice_show(char *buf, const char *const *names,
			   unsigned int n, unsigned int cur)
{
	int len = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		len += sysfs_emit_at(buf, len, i == cur ? "%s[%s]" : "%s%s",
				     i ? " " : "", names[i]);
	return len + sysfs_emit_at(buf, len, "\n");
}

static int choice_parse(const char *buf, const char *const *names,
			unsigned int n)
{
	int i = __sysfs_match_string(names, n, buf);

	return i < 0 ? -EINVAL : i;
}

static const char *const break_large_names[] = {
	[ESXMEM_BREAK_PRESSURE] = "pressure",
	[ESXMEM_BREAK_ALWAYS] = "always",
	[ESXMEM_BREAK_NEVER] = "never",
};

static int set_break_large(int v)
{
	WRITE_ONCE(esxmem_large.break_for_sharing, v);
	esxmem_share_kick();
	return 0;
}

CHOICE_ATTR(break_large, break_large_names,
	    READ_ONCE(esxmem_large.break_for_sharing), set_break_large);

static const char *const share_mode_names[] = {
	[ESXMEM_SHARE_ISOLATED] = "isolated",
	[ESXMEM_SHARE_SAFE] = "safe",
	[ESXMEM_SHARE_OPEN] = "open",
};

/* What the new mode forbids is unshared before the write returns. */
static int set_share_mode(int v)
{
	return esxmem_share_set_mode(v);
}

CHOICE_ATTR(mode, share_mode_names, READ_ONCE(esxmem_share.mode),
	    set_share_mode);

THREAD_KNOB(scan_time_secs, esxmem_share.scan_time_secs, 1, ESXMEM_SCAN_TIME_MAX,
	    esxmem_share_kick);
THREAD_KNOB(max_cpu_percent, esxmem_share.max_cpu_percent, 1, 100,
	    esxmem_share_kick);
/* 0: the advisor sets the rates. */
THREAD_KNOB(pages_per_sec, esxmem_share.pages_per_sec, 0, ESXMEM_SCAN_RATE_MAX,
	    esxmem_share_kick);
THREAD_KNOB(vm_pages_per_sec, esxmem_share.vm_pages_per_sec, 1, ESXMEM_SCAN_RATE_MAX,
	    esxmem_share_kick);
THREAD_KNOB(safe_idle_passes, esxmem_share.safe_idle_passes, 1,
	    ESXMEM_SAFE_IDLE_PASSES_MAX, esxmem_share_kick);
COUNTER_ATTR(candidates, atomic_long_read(&esxmem_share.candidates));
COUNTER_ATTR(access_copies, atomic_long_read(&esxmem_share.access_copies));
COUNTER_ATTR(reserve_pages, esxmem_share_reserve_pages());
COUNTER_ATTR(releases_pending, esxmem_share_releases_pending());

static struct attribute *share_attrs[] = {
	&enabled_attr.attr,
	&isolate_vms_attr.attr,
	&mode_attr.attr,
	&safe_idle_passes_attr.attr,
	&break_large_attr.attr,
	&scan_time_secs_attr.attr,
	&max_cpu_percent_attr.attr,
	&pages_per_sec_attr.attr,
	&vm_pages_per_sec_attr.attr,
	&pages_shared_attr.attr,
	&pages_sharing_attr.attr,
	&zero_pages_attr.attr,
	&hints_attr.attr,
	&pages_scanned_attr.attr,
	&full_scans_attr.attr,
	&merges_attr.attr,
	&zero_merges_attr.attr,
	&stale_hints_attr.attr,
	&hints_dropped_attr.attr,
	&hints_evicted_attr.attr,
	&collisions_attr.attr,
	&table_full_attr.attr,
	&candidates_attr.attr,
	&access_copies_attr.attr,
	&reserve_pages_attr.attr,
	&releases_pending_attr.attr,
	&scan_cpu_us_attr.attr,
	&cpu_capped_us_attr.attr,
	&guest_pages_attr.attr,
	&metadata_bytes_attr.attr,
	NULL,
};

static const struct attribute_group share_attr_group = {
	.name = "share",
	.attrs = share_attrs,
};

/* sample/: idle-memory sampling. */

COUNTER_ATTR(periods, atomic64_read(&esxmem_sampler.periods));

/* "faults" and "cpu_us" are names the other groups' files take already. */
static ssize_t sample_faults_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(&esxmem_sampler.faults));
}

static ssize_t sample_cpu_us_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", esxmem_sample_cpu_ns() / NSEC_PER_USEC);
}

THREAD_KNOB(period_secs, esxmem_sampler.period_secs, 1, ESXMEM_SAMPLE_PERIOD_MAX,
	    esxmem_sample_kick);
THREAD_KNOB(pages, esxmem_sampler.pages, 1, ESXMEM_SAMPLE_PAGES_MAX, esxmem_sample_kick);

static ssize_t sample_enabled_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(esxmem_sampler.enabled));
}

static ssize_t sample_enabled_store(struct kobject *kobj,
				    struct kobj_attribute *attr,
				    const char *buf, size_t count)
{
	unsigned int v;

	if (kstrtouint(buf, 10, &v) || v > 1)
		return -EINVAL;
	esxmem_sample_set_enabled(v);
	return count;
}

static struct kobj_attribute sample_enabled_attr =
	__ATTR(enabled, 0644, sample_enabled_show, sample_enabled_store);
static struct kobj_attribute sample_faults_attr =
	__ATTR(faults, 0444, sample_faults_show, NULL);
static struct kobj_attribute sample_cpu_us_attr =
	__ATTR(cpu_us, 0444, sample_cpu_us_show, NULL);

static struct attribute *sample_attrs[] = {
	&sample_enabled_attr.attr,
	&period_secs_attr.attr,
	&pages_attr.attr,
	&sample_faults_attr.attr,
	&periods_attr.attr,
	&sample_cpu_us_attr.attr,
	NULL,
};

static const struct attribute_group sample_attr_group = {
	.name = "sample",
	.attrs = sample_attrs,
};

/* reclaim/: compression and swapping. Files named reclaim_* in the code. */

#define RECLAIM_ATTR(_name, _expr)					\
static ssize_t reclaim_##_name##_show(struct kobject *kobj,		\
				      struct kobj_attribute *attr,	\
				      char *buf)			\
{									\
	return sysfs_emit(buf, "%llu\n", (unsigned long long)(_expr));	\
}									\
static struct kobj_attribute reclaim_##_name##_attr =			\
	__ATTR(_name, 0444, reclaim_##_name##_show, NULL)

#define RECLAIM_SUM(_name) RECLAIM_ATTR(_name,				\
	esxmem_reclaim_sum(offsetof(struct esxmem_vm_reclaim, _name)))

RECLAIM_ATTR(swapped_pages, esxmem_vm_sum_state(ESXMEM_PAGE_SWAPPED));
RECLAIM_ATTR(compressed_pages, esxmem_vm_sum_state(ESXMEM_PAGE_COMPRESSED));
RECLAIM_ATTR(compressed_bytes, esxmem_zstore_bytes());
RECLAIM_ATTR(zpool_pages, esxmem_zstore_pages());
RECLAIM_ATTR(emergency_pages, atomic64_read(&esxmem_reclaimer.emergency_pages));
RECLAIM_ATTR(cpu_us, esxmem_reclaim_cpu_ns() / NSEC_PER_USEC);
RECLAIM_SUM(swap_outs);
RECLAIM_SUM(swap_ins);
RECLAIM_SUM(swap_errors);
RECLAIM_SUM(compress_outs);
RECLAIM_SUM(compress_ins);
RECLAIM_SUM(compress_rejects);
RECLAIM_SUM(compress_errors);
RECLAIM_SUM(skipped);
RECLAIM_SUM(low_waits);

THREAD_KNOB(compress_percent, esxmem_reclaimer.compress_percent, 0, 100,
	    esxmem_reclaim_kick);

static ssize_t reclaim_enabled_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(esxmem_reclaimer.enabled));
}

static ssize_t reclaim_enabled_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned int v;

	if (kstrtouint(buf, 10, &v) || v > 1)
		return -EINVAL;
	WRITE_ONCE(esxmem_reclaimer.enabled, v);
	esxmem_reclaim_kick();
	return count;
}

static struct kobj_attribute reclaim_enabled_attr =
	__ATTR(enabled, 0644, reclaim_enabled_show, reclaim_enabled_store);

static struct attribute *reclaim_attrs[] = {
	&reclaim_enabled_attr.attr,
	&compress_percent_attr.attr,
	&reclaim_swapped_pages_attr.attr,
	&reclaim_compressed_pages_attr.attr,
	&reclaim_compressed_bytes_attr.attr,
	&reclaim_zpool_pages_attr.attr,
	&reclaim_swap_outs_attr.attr,
	&reclaim_swap_ins_attr.attr,
	&reclaim_swap_errors_attr.attr,
	&reclaim_compress_outs_attr.attr,
	&reclaim_compress_ins_attr.attr,
	&reclaim_compress_rejects_attr.attr,
	&reclaim_compress_errors_attr.attr,
	&reclaim_skipped_attr.attr,
	&reclaim_low_waits_attr.attr,
	&reclaim_emergency_pages_attr.attr,
	&reclaim_cpu_us_attr.attr,
	NULL,
};

static const struct attribute_group reclaim_attr_group = {
	.name = "reclaim",
	.attrs = reclaim_attrs,
};

static struct attribute *esxmem_attrs[] = {
	&pool_pages_attr.attr,
	&used_pages_attr.attr,
	&free_pages_attr.attr,
	&state_attr.attr,
	&state_high_permille_attr.attr,
	&state_soft_permille_attr.attr,
	&state_hard_permille_attr.attr,
	&state_low_permille_attr.attr,
	&fault_wait_ms_attr.attr,
	&objects_attr.attr,
	&faults_attr.attr,
	&cow_breaks_attr.attr,
	&fault_waits_attr.attr,
	&fault_wait_timeouts_attr.attr,
	&alloc_failures_attr.attr,
	&state_changes_attr.attr,
	&held_pages_attr.attr,
	&large_pages_attr.attr,
	&large_pages_in_use_attr.attr,
	&large_page_allocs_attr.attr,
	&large_page_fallbacks_attr.attr,
	&large_page_breaks_attr.attr,
	&large_max_zero_pieces_attr.attr,
	&large_page_underused_breaks_attr.attr,
	&large_page_break_failures_attr.attr,
	NULL,
};

static const struct attribute_group esxmem_attr_group = {
	.attrs = esxmem_attrs,
};

void esxmem_sysfs_state_changed(void)
{
	/* Safe in any context; lets a daemon poll() on "state". */
	if (esxmem_kobj)
		sysfs_notify(esxmem_kobj, NULL, "state");
}

/*
 * /sys/kernel/mm, where the kernel's own memory knobs live (ksm,
 * transparent_hugepage). Its kobject, mm_kobj, is exported to modules on
 * 6.1 but no longer on 6.12, so it is found by name on both: sysfs keeps a
 * directory's kobject in its kernfs node.
 */
static struct kobject *mm_sysfs_kobj(void)
{
	struct kernfs_node *kn = kernfs_find_and_get(kernel_kobj->sd, "mm");
	struct kobject *kobj;

	if (!kn)
		return NULL;
	kobj = kobject_get(kn->priv);
	kernfs_put(kn);
	return kobj;
}

int esxmem_sysfs_init(void)
{
	struct kobject *mm = mm_sysfs_kobj();
	int err;

	if (!mm) {
		pr_err("esxmem: /sys/kernel/mm not found\n");
		return -ENOENT;
	}
	esxmem_kobj = kobject_create_and_add("esxmem", mm);
	/* A child holds its parent. */
	kobject_put(mm);
	if (!esxmem_kobj)
		return -ENOMEM;
	err = sysfs_create_group(esxmem_kobj, &esxmem_attr_group);
	if (err)
		goto err_put;
	err = sysfs_create_group(esxmem_kobj, &share_attr_group);
	if (err)
		goto err_group;
	err = sysfs_create_group(esxmem_kobj, &sample_attr_group);
	if (err)
		goto err_share;
	err = sysfs_create_group(esxmem_kobj, &reclaim_attr_group);
	if (err)
		goto err_sample;
	return 0;

err_sample:
	sysfs_remove_group(esxmem_kobj, &sample_attr_group);
err_share:
	sysfs_remove_group(esxmem_kobj, &share_attr_group);
err_group:
	sysfs_remove_group(esxmem_kobj, &esxmem_attr_group);
err_put:
	kobject_put(esxmem_kobj);
	esxmem_kobj = NULL;
	return err;
}

void esxmem_sysfs_exit(void)
{
	sysfs_remove_group(esxmem_kobj, &reclaim_attr_group);
	sysfs_remove_group(esxmem_kobj, &sample_attr_group);
	sysfs_remove_group(esxmem_kobj, &share_attr_group);
	sysfs_remove_group(esxmem_kobj, &esxmem_attr_group);
	kobject_put(esxmem_kobj);
	esxmem_kobj = NULL;
}
