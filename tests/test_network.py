"""RNN: cell + readout + initial state, run over a population."""

import pytest
import torch

import rnnscope as rs


def test_run_shapes_and_shared_vs_per_network_inputs():
    net = rs.RNN(rs.cells.LSTM(8, 3), output_size=2)
    params = net.init(population=4, seed=0)
    x = torch.randn(5, 7, 3)
    states, outputs = net.run(params, x)
    assert states.shape == (4, 5, 7, 16) and outputs.shape == (4, 5, 7, 2)
    states2, outputs2 = net.run(params, x.expand(4, 5, 7, 3))
    torch.testing.assert_close(states, states2)
    torch.testing.assert_close(outputs, outputs2)
    # readout reads h, not the LSTM's c
    want = states[..., :8] @ params["W_out"][:, None] + params["b_out"][:, None, None]
    torch.testing.assert_close(outputs, want)


def test_population_member_equals_network_run_alone():
    net = rs.RNN(rs.cells.GRU(8, 3), output_size=3)
    params = net.init(population=3, seed=[5, 6, 7])
    x = torch.randn(4, 9, 3)
    states, _ = net.run(params, x)
    alone = net.init(population=1, seed=6)
    states_alone, _ = net.run(alone, x)
    torch.testing.assert_close(states[1:2], states_alone)


def test_learned_initial_state_is_used():
    net = rs.RNN(rs.cells.VanillaRNN(4, 1), output_size=1, learn_initial_state=True)
    params = net.init(2, 0)
    params["h0"] = torch.full((2, 4), 0.5)
    states, _ = net.run(params, torch.zeros(1, 1, 1))
    want = torch.tanh(0.5 * params["W_hh"].sum(1) + params["b"])
    torch.testing.assert_close(states[:, 0, 0], want, atol=1e-6, rtol=0)


def test_bad_inputs_are_named():
    net = rs.RNN(rs.cells.GRU(4, 3), output_size=1)
    params = net.init(2, 0)
    with pytest.raises(ValueError, match=r"inputs must be \[B, T, 3\] or \[N, B, T, 3\]"):
        net.run(params, torch.zeros(5, 7, 2))
    with pytest.raises(ValueError, match="inputs have 3 networks on axis 0 but params have 2"):
        net.run(params, torch.zeros(3, 5, 7, 3))
    with pytest.raises(TypeError, match="inputs must hold floating-point values"):
        net.run(params, torch.zeros(5, 7, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="h0 must have shape"):
        net.run(params, torch.zeros(5, 7, 3), h0=torch.zeros(2, 4))
    bad = dict(params, W_out=params["W_out"] * float("inf"))
    with pytest.raises(ValueError, match="contains NaN or inf"):
        net.run(bad, torch.zeros(5, 7, 3))
    with pytest.raises(KeyError, match="lack 'W_out'"):
        net.run({k: v for k, v in params.items() if k != "W_out"}, torch.zeros(5, 7, 3))
    with pytest.raises(TypeError, match="cell must be an rnnscope cell"):
        rs.RNN(torch.nn.GRU(3, 4), output_size=1)
    with pytest.raises(ValueError, match="output_size must be a positive integer"):
        rs.RNN(rs.cells.GRU(4, 3), output_size=0)


def test_text_rnn_reads_each_text_to_its_own_end():
    from rnnscope.network import TextRNN

    net = TextRNN(rs.cells.GRU(6, 4), vocab_size=20)
    params = net.init(population=3, seed=[1, 2, 3])
    tokens = torch.tensor([[5, 6, 7, 0, 0], [9, 8, 7, 6, 5]])
    lengths = torch.tensor([3, 5])
    states, logits = net.run(params, tokens, lengths)
    assert states.shape == (3, 2, 5, 6) and logits.shape == (3, 2, 1)
    # padding after a text's end does not change its logit
    short, _ = net.run(params, tokens[:1, :3])
    torch.testing.assert_close(logits[:, 0], net.rnn.readout(params, short[:, 0, -1]))
    # each network reads through its own embedding
    x = net.embed(params, tokens)
    torch.testing.assert_close(x[1, 1, 0], params["embedding"][1, 9])
    # a population member equals the same network alone
    alone = net.init(population=1, seed=2)
    torch.testing.assert_close(net.logits(alone, tokens, lengths)[0], logits[1])


def test_text_rnn_embedding_gets_gradients():
    from rnnscope.network import TextRNN

    net = TextRNN(rs.cells.LSTM(5, 3), vocab_size=10)
    params = {k: v.requires_grad_() for k, v in net.init(2, 0).items()}
    tokens = torch.tensor([[1, 2, 3], [4, 2, 0]])
    net.logits(params, tokens, torch.tensor([3, 2])).sum().backward()
    grad = params["embedding"].grad
    assert grad[:, [1, 2, 3, 4]].abs().sum() > 0
    assert grad[:, [0, 5, 6]].abs().sum() == 0  # unread and padding-only tokens


def test_text_rnn_bad_inputs():
    from rnnscope.network import TextRNN

    net = TextRNN(rs.cells.VanillaRNN(4, 3), vocab_size=10)
    params = net.init(1, 0)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        net.run(params, torch.tensor([[3, 12]]))
    with pytest.raises(ValueError, match="integer ids"):
        net.run(params, torch.tensor([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="lengths"):
        net.run(params, torch.tensor([[1, 2]]), torch.tensor([3]))
    with pytest.raises(KeyError, match="embedding"):
        net.run({k: v for k, v in params.items() if k != "embedding"}, torch.tensor([[1]]))
