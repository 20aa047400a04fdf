#!/usr/bin/env bash
# Run HERE (the development machine), before a GPU run: downloads into .whl/ the wheels that the
# lent GPU machine's image lacks. That image (the device tool's KINDS.md) has Python 3.12 with
# jax, flax, optax, chex, orbax-checkpoint, matplotlib, seaborn, PyYAML and tqdm, and nothing
# can be installed there from a registry, so these travel with the run (`carry: [".whl"]`).
# The versions are the ones this project's CPU environment resolves to.
set -euo pipefail
cd "$(dirname "$0")/../.."
wheels=(
  gymnax==1.0.1
  distrax==0.1.9
  tfp-nightly==0.26.0.dev20261027
  gymnasium==1.3.0
  farama-notifications==0.0.6
  dm-tree==0.1.10
  gast==0.7.0
  decorator==5.3.1
)
rm -rf .whl && mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d .whl "${wheels[@]}"
ls -1 .whl
du -sh .whl
