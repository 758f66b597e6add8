# tmpl as make targets, for any project's Makefile:
#
#     include path/to/tmpl.mk
#
# then `make tmpl-up`, `make tmpl-ssh`, `make tmpl-ssh CMD='make test'`, `make tmpl-stop`,
# `make tmpl-rm FORCE=1`, `make tmpl-validate`, `make tmpl-status`, `make tmpl-trust`. Or
# without a Makefile of your own: `make -f path/to/tmpl.mk tmpl-up`. A new or changed folder
# must be approved first: `make tmpl-up` asks at a terminal; elsewhere `make tmpl-trust`.
#
# The targets act on the folder make runs in (`make -C DIR` works) through `tmpl` on PATH, or
# $(TMPL). They are prefixed with `tmpl-` so they never collide with a project's own `up`,
# `rm` or `status` targets.

TMPL ?= tmpl

# CMD as one shell word: its single quotes escaped for the single-quoted string
tmpl_cmd = '$(subst ','\'',$(CMD))'

.PHONY: tmpl-up tmpl-ssh tmpl-stop tmpl-rm tmpl-validate tmpl-status tmpl-trust

tmpl-up:
	$(TMPL) up

tmpl-ssh:
	$(TMPL) ssh $(if $(CMD),-- sh -c $(tmpl_cmd))

tmpl-stop:
	$(TMPL) stop

tmpl-rm:
	$(TMPL) rm $(if $(FORCE),-f)

tmpl-validate:
	$(TMPL) validate

tmpl-status:
	$(TMPL) status

tmpl-trust:
	$(TMPL) trust
