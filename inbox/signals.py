"""Login sessions and the agent's live socket: an ended session closes its sockets."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from omnico.core import realtime
from tickets.presence import agent_go_offline


@receiver(user_logged_out, dispatch_uid="inbox.close_sockets_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if user is not None and session is not None:
        realtime.session_end(user_id=user.pk, session_key=session.session_key)


@receiver(post_save, sender=get_user_model(), dispatch_uid="inbox.close_sockets_on_deactivation")
def close_sockets_on_deactivation(sender, instance, created, update_fields=None, **kwargs) -> None:
    if created or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    realtime.session_end(user_id=instance.pk)


@receiver(user_logged_out, dispatch_uid="inbox.offline_on_logout")
def offline_on_logout(sender, request, user, **kwargs) -> None:
    """Signed out: the agent is offline and takes no new tickets (``tickets.presence``)."""
    if user is not None:
        agent_go_offline(user_id=user.pk)


@receiver(post_save, sender=get_user_model(), dispatch_uid="inbox.offline_on_deactivation")
def offline_on_deactivation(sender, instance, created, update_fields=None, **kwargs) -> None:
    if created or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    agent_go_offline(user_id=instance.pk)
