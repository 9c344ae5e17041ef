/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest routines of the test VMM, 32-bit x86 for flat protected mode
 * without paging. See vmm.h for each routine's registers.
 *
 * This file is assembled into the host library as read-only data: the
 * guest code between vmm_guest_start and vmm_guest_end is copied into guest
 * memory by vmm_load_guest. It must stay position independent: only
 * relative jumps, no absolute addresses, no stack. vmm_guest_offsets gives
 * each routine's entry, in enum vmm_routine order.
 */

/* eax = vmm_pattern(edi, edx); clobbers esi. Must match vmm.h. */
.macro PATTERN
	movl	%edi, %eax
	xorl	%edx, %eax
	imull	$0x9e3779b1, %eax, %eax
	movl	%eax, %esi
	shrl	$16, %esi
	xorl	%esi, %eax
.endm

/* Stop; should the vCPU run on, stop again. */
.macro DONE
99:	hlt
	jmp	99b
.endm

	.section .rodata.vmm_guest, "a"
	.code32
	.p2align 4

	.globl	vmm_guest_start
	.type	vmm_guest_start, @object
vmm_guest_start:

/* fill: ebx = first gpa, ecx = pages, edx = seed. */
guest_fill:
	movl	%ebx, %edi
	shll	$10, %ecx		/* dwords */
	jz	2f
1:	PATTERN
	movl	%eax, (%edi)
	addl	$4, %edi
	decl	%ecx
	jnz	1b
2:	DONE

/*
 * check: ebx = first gpa, ecx = pages, edx = seed.
 * eax = mismatching dwords, esi = gpa of the first or 0xffffffff.
 */
	.p2align 4
guest_check:
	movl	%ebx, %edi
	xorl	%ebx, %ebx		/* mismatches */
	orl	$-1, %ebp		/* first mismatch */
	shll	$10, %ecx
	jz	3f
1:	PATTERN
	cmpl	(%edi), %eax
	je	2f
	incl	%ebx
	cmpl	$1, %ebx
	jne	2f
	movl	%edi, %ebp
2:	addl	$4, %edi
	decl	%ecx
	jnz	1b
3:	movl	%ebx, %eax
	movl	%ebp, %esi
	DONE

/* touch: ebx = first gpa, ecx = count, edx = stride. eax = XOR of reads. */
	.p2align 4
guest_touch:
	xorl	%eax, %eax
	testl	%ecx, %ecx
	jz	2f
1:	xorl	(%ebx), %eax
	addl	%edx, %ebx
	decl	%ecx
	jnz	1b
2:	DONE

/* write_list: ebx = table of ecx { gpa, value } pairs. */
	.p2align 4
guest_write_list:
	testl	%ecx, %ecx
	jz	2f
1:	movl	(%ebx), %edi
	movl	4(%ebx), %eax
	movl	%eax, (%edi)
	addl	$8, %ebx
	decl	%ecx
	jnz	1b
2:	DONE

/* print: esi = string, ecx = length; bytes go to the debug port. */
	.p2align 4
guest_print:
	movl	$0xe9, %edx
	testl	%ecx, %ecx
	jz	2f
1:	movb	(%esi), %al
	outb	%al, %dx
	incl	%esi
	decl	%ecx
	jnz	1b
2:	DONE

	.globl	vmm_guest_end
	.type	vmm_guest_end, @object
vmm_guest_end:
	.size	vmm_guest_start, vmm_guest_end - vmm_guest_start

	.section .rodata
	.p2align 2
	.globl	vmm_guest_offsets
	.type	vmm_guest_offsets, @object
vmm_guest_offsets:
	.long	guest_fill - vmm_guest_start
	.long	guest_check - vmm_guest_start
	.long	guest_touch - vmm_guest_start
	.long	guest_write_list - vmm_guest_start
	.long	guest_print - vmm_guest_start
	.size	vmm_guest_offsets, . - vmm_guest_offsets

	.section .note.GNU-stack, "", @progbits
