from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "inbox/home.html")


inbox = ticket_list = reports = home


@login_required
def ticket_detail(request, ticket_id):
    return render(request, "inbox/home.html")
