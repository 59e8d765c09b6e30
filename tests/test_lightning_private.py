"""The two private Lightning attributes textrnn still uses, where Lightning 2.x has no public equivalent,
checked against the installed Lightning (pinned below 3 in pyproject.toml): if an upgrade moves them, this
fails by name instead of a signal stop or a DDP check silently doing nothing.

- `StopOnSignal` raises ``trainer._signal_connector.received_sigterm``, the flag Lightning's loops check
  after every step and evaluation batch (the public ``Trainer.received_sigterm`` only reads it).
- `TextDataModule` reads ``trainer._accelerator_connector.use_distributed_sampler`` to refuse a DDP run
  that would shard its batches twice (the Trainer keeps the argument nowhere public).
"""

import lightning.pytorch as pl


def test_the_stop_flag_textrnn_raises_is_the_one_the_trainer_reports():
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert trainer.received_sigterm is False
    trainer._signal_connector.received_sigterm = True
    assert trainer.received_sigterm is True


def test_the_distributed_sampler_setting_is_where_textrnn_reads_it():
    for value in (True, False):
        trainer = pl.Trainer(logger=False, enable_checkpointing=False, use_distributed_sampler=value)
        assert trainer._accelerator_connector.use_distributed_sampler is value
