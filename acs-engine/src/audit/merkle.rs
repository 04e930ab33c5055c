//! The Merkle tree over the log's records, hashed as RFC 6962 (§2.1) hashes it, so that
//! any Certificate Transparency tooling agrees with its roots and proofs: leaves
//! `SHA-256(0x00 ‖ body)`, interior nodes `SHA-256(0x01 ‖ left ‖ right)`, and a tree of
//! `n` leaves split at the largest power of two below `n`.
//!
//! The writer keeps only the tree's right edge ([`Tree`]: one hash per set bit of the
//! size), so an append costs O(log n) and the root of the current size is always at hand.
//! Proofs are lists of the roots of whole ranges of leaves ([`inclusion_ranges`],
//! [`consistency_ranges`]); whoever holds the leaves (a slice, or the log streamed once
//! from disk) hashes each range with a [`Tree`] of its own.

use std::ops::Range;

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf, a node or a root.
pub type Hash = [u8; 32];

/// The hash of a leaf whose content is `body`.
pub fn leaf_hash(body: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(body);
    hasher.finalize().into()
}

/// The hash of an interior node over two subtrees.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: SHA-256 of no bytes.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A tree of which only the right edge is kept: the roots of the perfect subtrees that
/// make it up, largest (leftmost) first. Enough to append and to give the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    size: u64,
    edge: Vec<Hash>,
}

impl Tree {
    /// The empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// How many leaves it has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Add a leaf (its hash, from [`leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        // Each trailing 1 bit of the size is a perfect subtree of the same height as the
        // one being carried: they merge, as in binary addition.
        while size & 1 == 1 {
            let Some(left) = self.edge.pop() else { break };
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.edge.push(hash);
        self.size += 1;
    }

    /// The root (RFC 6962's MTH) of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut subtrees = self.edge.iter().rev();
        let Some(last) = subtrees.next() else {
            return empty_root();
        };
        // MTH splits at the largest power of two, so the smaller subtrees on the right
        // hash together first.
        subtrees.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// The root (MTH) of `leaves`, by RFC 6962's recursive definition: the reference the
/// incremental [`Tree`] is checked against, and what proofs are made of in memory.
pub fn root_of(leaves: &[Hash]) -> Hash {
    let mut tree = Tree::new();
    for leaf in leaves {
        tree.push(*leaf);
    }
    tree.root()
}

/// The largest power of two smaller than `n` (`n` > 1).
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The ranges of leaves whose roots make the inclusion proof of leaf `index` in a tree of
/// `size` leaves (RFC 6962 §2.1.1, PATH), in the proof's order (from the leaf up). Empty
/// when `index >= size`.
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<Range<u64>> {
    fn path(m: u64, range: Range<u64>, out: &mut Vec<Range<u64>>) {
        let n = range.end - range.start;
        if n <= 1 {
            return;
        }
        let k = split(n);
        let middle = range.start + k;
        if m < k {
            path(m, range.start..middle, out);
            out.push(middle..range.end);
        } else {
            path(m - k, middle..range.end, out);
            out.push(range.start..middle);
        }
    }
    let mut out = Vec::new();
    if index < size {
        path(index, 0..size, &mut out);
    }
    out
}

/// The ranges of leaves whose roots make the consistency proof between the tree's first
/// `old` leaves and its first `new` (RFC 6962 §2.1.2, PROOF), in the proof's order. Empty
/// when `old` is 0, `old == new` or `old > new`.
pub fn consistency_ranges(old: u64, new: u64) -> Vec<Range<u64>> {
    fn subproof(m: u64, range: Range<u64>, whole: bool, out: &mut Vec<Range<u64>>) {
        let n = range.end - range.start;
        if m == n {
            if !whole {
                out.push(range);
            }
            return;
        }
        let k = split(n);
        let middle = range.start + k;
        if m <= k {
            subproof(m, range.start..middle, whole, out);
            out.push(middle..range.end);
        } else {
            subproof(m - k, middle..range.end, false, out);
            out.push(range.start..middle);
        }
    }
    let mut out = Vec::new();
    if old > 0 && old < new {
        subproof(old, 0..new, true, &mut out);
    }
    out
}

/// The roots of `ranges` over `leaves`; `None` when a range reaches past them.
pub fn range_roots(leaves: &[Hash], ranges: &[Range<u64>]) -> Option<Vec<Hash>> {
    ranges
        .iter()
        .map(|range| {
            let start = usize::try_from(range.start).ok()?;
            let end = usize::try_from(range.end).ok()?;
            leaves.get(start..end).map(root_of)
        })
        .collect()
}

/// The inclusion proof of leaf `index` among `leaves` (all of the tree).
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Option<Vec<Hash>> {
    let size = leaves.len() as u64;
    if index >= size {
        return None;
    }
    range_roots(leaves, &inclusion_ranges(index, size))
}

/// The consistency proof between the first `old` leaves and all of `leaves`.
pub fn consistency_proof(leaves: &[Hash], old: u64) -> Option<Vec<Hash>> {
    let new = leaves.len() as u64;
    if old > new {
        return None;
    }
    range_roots(leaves, &consistency_ranges(old, new))
}

/// Whether `proof` shows that `leaf` is leaf `index` of the tree of `size` leaves whose
/// root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Whether `proof` shows that the tree of `old` leaves with root `old_root` is a prefix of
/// the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        // Every tree extends the empty one; there is nothing to prove.
        return proof.is_empty() && *old_root == empty_root();
    }
    let mut hashes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        hashes.push(*old_root);
    }
    hashes.extend_from_slice(proof);
    let mut nodes = hashes.iter();
    let Some(first) = nodes.next() else {
        return false;
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in nodes {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(hash: &Hash) -> String {
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(text: &str) -> Vec<u8> {
        crate::audit::unhex(text).unwrap()
    }

    /// RFC 6962 by its recursive definition, independent of [`Tree`].
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    // The Certificate Transparency reference leaves and tree heads (as in the
    // transparency-dev/merkle test constants).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference_leaves() -> Vec<Hash> {
        LEAVES.iter().map(|l| leaf_hash(&unhex(l))).collect()
    }

    #[test]
    fn the_roots_are_the_certificate_transparency_reference_roots() {
        let leaves = reference_leaves();
        let mut tree = Tree::new();
        assert_eq!(hex(&tree.root()), ROOTS[0]);
        for (n, leaf) in leaves.iter().enumerate() {
            tree.push(*leaf);
            assert_eq!(hex(&tree.root()), ROOTS[n + 1], "size {}", n + 1);
            assert_eq!(hex(&mth(&leaves[..=n])), ROOTS[n + 1]);
        }
    }

    #[test]
    fn the_inclusion_proofs_are_the_reference_proofs() {
        let leaves = reference_leaves();
        let proof: Vec<String> = inclusion_proof(&leaves, 0)
            .unwrap()
            .iter()
            .map(hex)
            .collect();
        assert_eq!(
            proof,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        );
        let proof: Vec<String> = inclusion_proof(&leaves, 5)
            .unwrap()
            .iter()
            .map(hex)
            .collect();
        assert_eq!(
            proof,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
    }

    fn pseudo_leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("record {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn the_incremental_root_is_the_recursive_root_at_every_size() {
        let leaves = pseudo_leaves(200);
        let mut tree = Tree::new();
        for n in 0..=leaves.len() {
            assert_eq!(tree.root(), mth(&leaves[..n]), "size {n}");
            if let Some(leaf) = leaves.get(n) {
                tree.push(*leaf);
            }
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_mangled_one_does_not() {
        let leaves = pseudo_leaves(70);
        for n in 1..=leaves.len() {
            let tree = &leaves[..n];
            let root = mth(tree);
            for i in 0..n {
                let proof = inclusion_proof(tree, i as u64).unwrap();
                let (i, size) = (i as u64, n as u64);
                assert!(verify_inclusion(i, size, &tree[i as usize], &proof, &root));
                assert!(!verify_inclusion(
                    size,
                    size,
                    &tree[i as usize],
                    &proof,
                    &root
                ));
                if let Some((last, rest)) = proof.split_last() {
                    assert!(!verify_inclusion(i, size, &tree[i as usize], rest, &root));
                    let mut flipped = proof.clone();
                    let mut changed = *last;
                    changed[3] ^= 1;
                    *flipped.last_mut().unwrap() = changed;
                    assert!(!verify_inclusion(
                        i,
                        size,
                        &tree[i as usize],
                        &flipped,
                        &root
                    ));
                }
                let mut longer = proof.clone();
                longer.push([7; 32]);
                assert!(!verify_inclusion(
                    i,
                    size,
                    &tree[i as usize],
                    &longer,
                    &root
                ));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_mangled_one_does_not() {
        let leaves = pseudo_leaves(40);
        for new in 0..=leaves.len() {
            let new_root = mth(&leaves[..new]);
            for old in 0..=new {
                let old_root = mth(&leaves[..old]);
                let proof = consistency_proof(&leaves[..new], old as u64).unwrap();
                let (o, n) = (old as u64, new as u64);
                assert!(
                    verify_consistency(o, n, &old_root, &new_root, &proof),
                    "{old} -> {new}"
                );
                if old > 0 && old < new {
                    let other = mth(&pseudo_leaves(new + 1)[1..=old]);
                    assert!(!verify_consistency(o, n, &other, &new_root, &proof));
                    assert!(!verify_consistency(o, n, &old_root, &old_root, &proof));
                    assert!(!verify_consistency(o, n, &old_root, &new_root, &proof[1..]));
                    let mut flipped = proof.clone();
                    flipped[0][0] ^= 0x80;
                    assert!(!verify_consistency(o, n, &old_root, &new_root, &flipped));
                }
            }
        }
        assert!(!verify_consistency(5, 3, &[0; 32], &[0; 32], &[]));
    }
}
