import pytest
import torch
from torch import nn

from manifold_smoothness.devices import model_device, resolve_device


def test_auto_resolves_to_cuda_only_with_a_gpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_explicit_cuda_without_a_gpu_is_an_error():
    with pytest.raises(RuntimeError, match="use auto or cpu"):
        resolve_device("cuda")


def test_model_device_is_where_the_parameters_are():
    assert model_device(nn.Linear(3, 2)) == torch.device("cpu")
    assert model_device(nn.Linear(3, 2, device="meta")) == torch.device("meta")
