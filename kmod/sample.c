// SPDX-License-Identifier: GPL-2.0
/*
 * Idle-memory sampling, the ESX way (Waldspurger, OSDI 2002, §5.2).
 *
 * Every period each VM gets n pages picked at random; each is marked
 * ESXMEM_PTE_SAMPLED and unmapped everywhere (KVM's mappings go too,
 * through its MMU notifier), so the next touch by the guest or the VMM
 * faults, and the fault counts it (esxmem_sample_touched()). At the end of
 * the period t of the n were touched: f = t / n. Each VM keeps a fast and
 * a slow moving average of f, and the current period's count so far; the
 * estimate is the largest of the three, so a VM that starts using memory
 * is seen at once while one that goes idle is believed only slowly.
 *
 * A kernel thread ends and starts each VM's periods (each VM on its own
 * clock, so a new VM is sampled at once); it holds the VM's inode while
 * it works on it, so the VM cannot go away meanwhile.
 */
#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "esxmem.h"

#define PPM			1000000U
/*
 * The fast average moves half way to each new period's value, so a change
 * shows in full after a few periods; the slow one an eighth, so it
 * remembers about eight periods and one quiet period does not make a busy
 * VM look idle.
 */
#define FAST_SHIFT		1
#define SLOW_SHIFT		3
#define PICK_TRIES		8	/* to find a page not picked yet */
#define LOCK_BATCH		256	/* pmap entries per lock hold */

struct esxmem_sampler esxmem_sampler = {
	.run_lock = __MUTEX_INITIALIZER(esxmem_sampler.run_lock),
	.wait = __WAIT_QUEUE_HEAD_INITIALIZER(esxmem_sampler.wait),
	.enabled = true,
	.period_secs = 30,
	.pages = 100,
};

static struct task_struct *sampler;

/* Called by a fault, under vm->lock, that cleared an entry's mark. */
void esxmem_sample_touched(struct esxmem_vm *vm)
{
	atomic_inc(&vm->sample.touched);
	atomic64_inc(&vm->sample.faults);
	atomic64_inc(&esxmem_sampler.faults);
}

u32 esxmem_sample_partial_ppm(struct esxmem_vm *vm)
{
	unsigned int n = READ_ONCE(vm->sample.n);

	if (!n)
		return 0;
	return min_t(u64, PPM, (u64)atomic_read(&vm->sample.touched) * PPM / n);
}

/* Until a period has ended there is no evidence: take the VM as active. */
u32 esxmem_sample_estimate_ppm(struct esxmem_vm *vm)
{
	if (!READ_ONCE(vm->sample.primed))
		return PPM;
	return max3(READ_ONCE(vm->sample.slow_ppm),
		    READ_ONCE(vm->sample.fast_ppm),
		    esxmem_sample_partial_ppm(vm));
}

static u32 moved(u32 avg, u32 f, unsigned int shift)
{
	return (u32)((s64)avg + (((s64)f - avg) >> shift));
}

/* Takes the marks off this period's pages, touched or not. */
static void unmark(struct esxmem_vm *vm)
{
	struct esxmem_vm_sample *s = &vm->sample;
	unsigned int i;

	for (i = 0; i < s->n; i++) {
		if (i % LOCK_BATCH == 0) {
			if (i)
				spin_unlock(&vm->lock);
			cond_resched();
			spin_lock(&vm->lock);
		}
		vm->pmap[s->picked[i]] &= ~ESXMEM_PTE_SAMPLED;
	}
	if (s->n)
		spin_unlock(&vm->lock);
}

static void end_period(struct esxmem_vm *vm)
{
	struct esxmem_vm_sample *s = &vm->sample;
	unsigned int touched;
	u32 f;

	unmark(vm);
	/* Every touch of a marked page is counted by now. */
	touched = atomic_xchg(&s->touched, 0);
	f = min_t(u64, PPM, (u64)touched * PPM / s->n);
	WRITE_ONCE(s->last_ppm, f);
	if (!s->primed) {
		WRITE_ONCE(s->fast_ppm, f);
		WRITE_ONCE(s->slow_ppm, f);
		WRITE_ONCE(s->primed, true);
	} else {
		WRITE_ONCE(s->fast_ppm, moved(s->fast_ppm, f, FAST_SHIFT));
		WRITE_ONCE(s->slow_ppm, moved(s->slow_ppm, f, SLOW_SHIFT));
	}
	WRITE_ONCE(s->periods, s->periods + 1);
	WRITE_ONCE(s->n, 0);
	atomic64_inc(&esxmem_sampler.periods);
}

/* Marks up to @want distinct random pages of @vm; how many it marked. */
static unsigned int mark(struct esxmem_vm *vm, unsigned int want)
{
	struct esxmem_vm_sample *s = &vm->sample;
	unsigned long npages = vm->npages;
	unsigned int n = 0, i, t;

	for (i = 0; i < want; i++) {
		if (i % LOCK_BATCH == 0) {
			if (i)
				spin_unlock(&vm->lock);
			cond_resched();
			spin_lock(&vm->lock);
		}
		for (t = 0; t < PICK_TRIES; t++) {
			/* Every page when the VM has no more than n. */
			pgoff_t index = want == npages ? i :
					get_random_u64() % npages;

			if (!(vm->pmap[index] & ESXMEM_PTE_SAMPLED)) {
				vm->pmap[index] |= ESXMEM_PTE_SAMPLED;
				s->picked[n++] = index;
				break;
			}
		}
	}
	if (want)
		spin_unlock(&vm->lock);
	return n;
}

static void start_period(struct esxmem_vm *vm)
{
	struct esxmem_vm_sample *s = &vm->sample;
	unsigned int want, n, i;

	want = min_t(unsigned long, READ_ONCE(esxmem_sampler.pages), vm->npages);
	if (want > s->capacity) {
		pgoff_t *picked = kvmalloc_array(want, sizeof(*picked), GFP_KERNEL);

		/* Try again next period; the VM keeps its estimate. */
		if (!picked)
			return;
		kvfree(s->picked);
		s->picked = picked;
		s->capacity = want;
	}
	n = mark(vm, want);
	WRITE_ONCE(s->n, n);
	for (i = 0; i < n; i++)
		esxmem_vm_unmap_page(vm, s->picked[i]);
}

static void sample_vm(struct esxmem_vm *vm)
{
	unsigned long period = READ_ONCE(esxmem_sampler.period_secs) * HZ;
	struct esxmem_vm_sample *s = &vm->sample;

	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap))
		return;
	/* A shorter period applies now, a longer one from the next. */
	if (s->n && time_after(s->due, jiffies + period))
		s->due = jiffies + period;
	if (s->n && time_before(jiffies, s->due))
		return;
	if (s->n)
		end_period(vm);
	start_period(vm);
	s->due = jiffies + period;
}

/* Stops sampling @vm: no page stays marked. The estimate stays. */
static void stop_vm(struct esxmem_vm *vm)
{
	/* Pairs with the release in esxmem_vm_fix_size(). */
	if (!smp_load_acquire(&vm->pmap))
		return;
	unmark(vm);
	WRITE_ONCE(vm->sample.n, 0);
	atomic_set(&vm->sample.touched, 0);
}

static void visit_vms(void (*fn)(struct esxmem_vm *vm))
{
	struct esxmem_vm *vm;
	u32 id = 0;

	for (;;) {
		vm = esxmem_vm_next_held(&id);
		if (!vm)
			break;
		fn(vm);
		esxmem_vm_put(vm);
		id++;
		if (current == sampler && kthread_should_stop())
			break;
	}
}

/*
 * Not niced like the sharing scanner: its work is small, and a period that
 * stretches on a busy host would blur the estimates.
 */
static int sampler_main(void *unused)
{
	set_freezable();
	while (!kthread_should_stop()) {
		if (!READ_ONCE(esxmem_sampler.enabled)) {
			wait_event_freezable(esxmem_sampler.wait,
					     READ_ONCE(esxmem_sampler.enabled) ||
					     kthread_should_stop());
			continue;
		}
		mutex_lock(&esxmem_sampler.run_lock);
		if (READ_ONCE(esxmem_sampler.enabled))
			visit_vms(sample_vm);
		mutex_unlock(&esxmem_sampler.run_lock);
		/* Periods are whole seconds: a quarter's lateness will do. */
		wait_event_freezable_timeout(esxmem_sampler.wait,
					     kthread_should_stop(), HZ / 4);
	}
	return 0;
}

u64 esxmem_sample_cpu_ns(void)
{
	return sampler ? READ_ONCE(sampler->se.sum_exec_runtime) : 0;
}

void esxmem_sample_kick(void)
{
	wake_up_all(&esxmem_sampler.wait);
}

void esxmem_sample_set_enabled(bool on)
{
	mutex_lock(&esxmem_sampler.run_lock);
	WRITE_ONCE(esxmem_sampler.enabled, on);
	if (!on)
		visit_vms(stop_vm);
	mutex_unlock(&esxmem_sampler.run_lock);
	esxmem_sample_kick();
}

/* Called when @vm is torn down: nothing else can reach it any more. */
void esxmem_sample_forget_vm(struct esxmem_vm *vm)
{
	kvfree(vm->sample.picked);
	vm->sample.picked = NULL;
}

int esxmem_sample_init(void)
{
	sampler = kthread_run(sampler_main, NULL, "esxmem_sample");
	return PTR_ERR_OR_ZERO(sampler);
}

void esxmem_sample_exit(void)
{
	kthread_stop(sampler);
}
