"""Background work (django-tasks; `manage.py db_worker` runs it, tests run it at once)."""

from django_tasks import task

from . import services


@task()
def check_upload(upload_id: int) -> None:
    services.upload_check(upload_id=upload_id)


@task()
def commit_upload(upload_id: int) -> None:
    services.upload_commit(upload_id=upload_id)


@task()
def verify_pending() -> dict:
    return services.completions_verify_pending()


@task()
def transmit_to_board() -> int:
    from .transmission import transmit

    return len(transmit())


@task()
def send_rejection_digests(record_ids: list[int], by_board: bool = False) -> int:
    from .notifications import notify_rejections

    return notify_rejections(record_ids, by_board=by_board)
