"""Parser behaviour: directives, continuations, comments, heredocs, flags, forms, errors."""

from __future__ import annotations

import pytest

from pytest_imagebuild.builder.dockerfile import Heredoc, Instruction, dump, parse, parse_tree
from pytest_imagebuild.errors import DockerfileError


def one(text: str) -> Instruction:
    """The last instruction of ``FROM scratch`` + text."""
    return parse("FROM scratch\n" + text).instructions[-1]


def error_of(text: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as info:
        parse(text, path="ctx/Dockerfile")
    return info.value


class TestDirectives:
    def test_all_three_at_the_top(self) -> None:
        df = parse("# syntax=docker/dockerfile:1.7\n# escape=`\n# check=skip=all\nFROM a\n")
        assert df.directives.syntax == "docker/dockerfile:1.7"
        assert df.directives.check == "skip=all"
        assert df.escape == "`"

    def test_only_before_anything_else(self) -> None:
        df = parse("FROM a\n# escape=`\nRUN a \\\n  b\n")
        assert df.escape == "\\"
        assert df.instructions[-1].args == ("a   b",)

    def test_blank_line_ends_directives(self) -> None:
        assert parse("\n# escape=`\nFROM a\n").escape == "\\"

    def test_case_and_spacing(self) -> None:
        assert parse("#  ESCAPE =  `  \nFROM a\n").escape == "`"

    def test_repeated_directive_is_an_error(self) -> None:
        error = error_of("# escape=`\n# escape=\\\nFROM a\n")
        assert "only one escape parser directive" in error.message
        assert error.location is not None
        assert error.location.line == 2

    def test_bad_escape_token(self) -> None:
        assert "invalid escape token" in error_of("# escape=x\nFROM a\n").message

    def test_backtick_escape_continues_lines(self) -> None:
        df = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo hi\n")
        assert df.instructions[-1].args == ("dir c:\\   && echo hi",)


class TestLines:
    def test_keywords_are_case_insensitive_and_indented(self) -> None:
        df = parse("  from a\n\tRun echo\n")
        assert [i.keyword for i in df.instructions] == ["FROM", "RUN"]

    def test_comments_and_blank_lines_inside_continuation_are_skipped(self) -> None:
        df = parse("FROM a\nRUN echo a \\\n  # comment\n\n   \n  b\nRUN next\n")
        run = df.instructions[1]
        assert run.args == ("echo a   b",)
        assert (run.start_line, run.end_line) == (2, 6)
        assert df.instructions[2].start_line == 7
        assert len(df.warnings) == 1
        assert "empty continuation line" in df.warnings[0]

    def test_continuation_at_end_of_file(self) -> None:
        assert parse("FROM a\nRUN x \\").instructions[-1].args == ("x",)

    def test_escaped_backslash_is_not_a_continuation(self) -> None:
        df = parse("FROM a\nENV C tail\\\\\nENV D d\n")
        assert [i.args for i in df.instructions[1:]] == [("C", "tail\\\\"), ("D", "d")]

    def test_continuation_with_trailing_blanks(self) -> None:
        assert one("RUN a \\  \t\n b\n").args == ("a  b",)

    def test_crlf_line_endings(self) -> None:
        df = parse("FROM a\r\nRUN a \\\r\n  b\r\n")
        assert df.instructions[1].args == ("a   b",)

    def test_byte_order_mark_and_bytes(self) -> None:
        df = parse("\ufeffFROM a\n".encode())
        assert df.instructions[0].args == ("a",)

    def test_hash_inside_an_instruction_is_not_a_comment(self) -> None:
        assert one("RUN echo # not a comment\n").args == ("echo # not a comment",)


class TestHeredocs:
    def test_run_heredoc_body_is_not_parsed_as_instructions(self) -> None:
        df = parse("FROM a\nRUN <<EOF\nFROM b\nENV X=1\nEOF\nUSER me\n")
        run = df.instructions[1]
        assert run.heredocs == (Heredoc("EOF", "FROM b\nENV X=1\n"),)
        assert (run.start_line, run.end_line) == (2, 5)
        assert [i.keyword for i in df.instructions] == ["FROM", "RUN", "USER"]

    def test_several_heredocs_on_one_line(self) -> None:
        copy = one("COPY <<a <<b /dst/\none\na\ntwo\nb\n")
        assert [(h.name, h.body) for h in copy.heredocs] == [("a", "one\n"), ("b", "two\n")]
        assert copy.args == ("<<a", "<<b", "/dst/")

    def test_dash_strips_leading_tabs(self) -> None:
        run = one("RUN <<-EOT\n\tindented\n\t\t  more\n\tEOT\n")
        assert run.heredocs[0] == Heredoc("EOT", "indented\n  more\n", expand=True, chomp=True)

    @pytest.mark.parametrize("marker", ['"EOF"', "'EOF'", 'E"OF"', "\\EOF"])
    def test_quoted_delimiter_disables_expansion(self, marker: str) -> None:
        heredoc = one(f"RUN <<{marker}\n$X\nEOF\n").heredocs[0]
        assert heredoc.name == "EOF"
        assert heredoc.expand is (marker == "\\EOF")

    def test_file_descriptor_and_command_around(self) -> None:
        run = one("RUN python3 3<<EOF >out\nprint(1)\nEOF\n")
        assert run.heredocs[0].fd == 3
        assert run.args == ("python3 3<<EOF >out",)

    def test_only_run_copy_add(self) -> None:
        df = parse("FROM a\nCMD cat <<EOF\nUSER x\n")
        assert [i.keyword for i in df.instructions] == ["FROM", "CMD", "USER"]
        assert df.instructions[1].heredocs == ()

    def test_exec_form_has_no_heredoc(self) -> None:
        assert one('RUN ["cat", "<<EOF"]\n').heredocs == ()

    def test_onbuild_wrapped_heredoc(self) -> None:
        onbuild = one("ONBUILD RUN <<EOF\necho hi\nEOF\n")
        assert onbuild.heredocs == (Heredoc("EOF", "echo hi\n"),)
        assert onbuild.inner is not None
        assert onbuild.inner.keyword == "RUN"

    def test_unterminated(self) -> None:
        error = error_of("FROM a\nRUN <<EOF\necho\n")
        assert error.message == "unterminated heredoc"
        assert error.location is not None
        assert error.location.line == 2
        assert error.hint is not None


class TestForms:
    def test_exec_and_shell_form(self) -> None:
        assert one('CMD ["a", "b c"]\n').json
        assert one('CMD ["a", "b c"]\n').args == ("a", "b c")
        assert not one("CMD a b\n").json

    @pytest.mark.parametrize(
        "text", ["['a']", '["a"', '["a" "b"]', '"[\\"a\\"]"', '["a"] x', "[NaN]"]
    )
    def test_invalid_json_is_shell_form(self, text: str) -> None:
        cmd = one(f"CMD {text}\n")
        assert (cmd.json, cmd.args) == (False, (text,))

    def test_non_string_json_is_an_error(self) -> None:
        assert "only contain strings" in error_of('FROM a\nRUN ["a", 1]\n').message

    def test_env_forms(self) -> None:
        old = one("ENV A b c\n")
        assert (old.pairs, old.legacy_form) == ((("A", "b c"),), True)
        new = one('ENV A=1 B="2 3" C=\n')
        assert new.pairs == (("A", "1"), ("B", '"2 3"'), ("C", ""))
        assert "can't find = in" in error_of("FROM a\nENV A=1 B\n").message

    def test_label_arg_expose_volume(self) -> None:
        assert one('LABEL "a b"=c d=e\n').pairs == (('"a b"', "c"), ("d", "e"))
        assert one('ARG A B=2 C="x y"\n').args == ("A", "B=2", 'C="x y"')
        assert one("EXPOSE 80/tcp 53/udp\n").args == ("80/tcp", "53/udp")
        assert one('VOLUME ["/a", "/b"]\n').args == ("/a", "/b")
        assert one("VOLUME /a /b\n").args == ("/a", "/b")

    def test_from_and_flags(self) -> None:
        df = parse("FROM --platform=linux/arm64 img:1 AS Build\n")
        from_ = df.instructions[0]
        assert from_.args == ("img:1", "AS", "Build")
        assert from_.flag("platform") == "linux/arm64"

    def test_copy_flags(self) -> None:
        copy = one(
            "COPY --from=b --chown=1:2 --chmod=644 --link --parents "
            "--exclude=*.md --exclude='x y' a /d/\n"
        )
        assert copy.flag("from") == "b"
        assert copy.flag_values("exclude") == ("*.md", "x y")
        assert copy.has_flag("link")
        assert copy.has_flag("parents")
        assert not copy.has_flag("nonsense")
        add = one("ADD --checksum=sha256:00 --keep-git-dir=true --chown=u https://x/y /d\n")
        assert add.has_flag("keep-git-dir")
        assert add.flag("checksum") == "sha256:00"

    def test_run_mounts_repeat(self) -> None:
        run = one("RUN --mount=type=cache,target=/c --mount=type=secret,id=s --network=none x\n")
        assert run.flag_values("mount") == ("type=cache,target=/c", "type=secret,id=s")
        assert run.flag("network") == "none"

    def test_healthcheck(self) -> None:
        hc = one(
            "HEALTHCHECK --interval=1m30s --timeout=3s --start-period=1s "
            "--start-interval=2s --retries=3 CMD curl -f http://x/\n"
        )
        assert hc.args == ("CMD", "curl -f http://x/")
        assert one("HEALTHCHECK NONE\n").args == ("NONE",)
        assert one('HEALTHCHECK CMD ["true"]\n').json

    def test_onbuild(self) -> None:
        onbuild = one("ONBUILD COPY --from=x . /\n")
        assert onbuild.inner is not None
        assert onbuild.inner.flags == ("--from=x",)
        assert dump(parse("FROM a\nONBUILD RUN x\n")).endswith('(onbuild (run "x"))\n')

    def test_maintainer_stopsignal_user_workdir_shell(self) -> None:
        assert one("MAINTAINER Jo <jo@x>\n").args == ("Jo <jo@x>",)
        assert one("STOPSIGNAL SIGTERM\n").args == ("SIGTERM",)
        assert one("USER a:b\n").args == ("a:b",)
        assert one("WORKDIR /a b\n").args == ("/a b",)
        assert one('SHELL ["/bin/bash", "-c"]\n').args == ("/bin/bash", "-c")


class TestErrors:
    def test_unknown_instruction_names_file_line_and_near_match(self) -> None:
        error = error_of("FROM a\n\nRUNN x\n")
        assert error.message == "unknown instruction: RUNN"
        assert str(error.location) == "ctx/Dockerfile:3"
        assert error.hint is not None
        assert "RUN" in error.hint

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("COPY --frm=x a b", "unknown flag: --frm"),
            ("CMD --doit x", "unknown flag: --doit"),
            ("COPY --from=a --from=b x y", "duplicate flag"),
            ("COPY --from x y", "missing a value"),
            ("COPY --link=maybe a b", "expecting boolean"),
            ("ADD --from=x a b", "unknown flag: --from"),
            ("ONBUILD ONBUILD RUN x", "ONBUILD ONBUILD"),
            ("ONBUILD FROM x", "FROM isn't allowed"),
            ("ONBUILD MAINTAINER x", "MAINTAINER isn't allowed"),
            ("ONBUILD", "requires at least one argument"),
            ("ONBUILD RUNN x", "unknown instruction: RUNN"),
            ("HEALTHCHECK CONNECT x", "Unknown type"),
            ("HEALTHCHECK CMD", "Missing command"),
            ("HEALTHCHECK NONE x", "takes no arguments"),
            ("HEALTHCHECK --interval=1x CMD a", "invalid duration"),
            ("HEALTHCHECK --retries=x CMD a", "integer"),
            ("ENV X", "ENV must have two arguments"),
            ("ENV =x", "names can not be blank"),
            ("ARG =x", "names can not be blank"),
            ("LABEL", "requires at least one argument"),
            ("COPY x", "at least two arguments"),
            ("SHELL /bin/sh", "JSON form"),
            ("SHELL []", "at least one argument"),
            ('VOLUME [""]', "empty string"),
            ("USER", "exactly one argument"),
            ("RUN", "at least one argument"),
            ("FROM a b", "one or three arguments"),
            ("FROM a AS 1x", "invalid name for build stage"),
        ],
    )
    def test_invalid_instructions(self, text: str, fragment: str) -> None:
        error = error_of(f"FROM a\n# c\n{text}\n")
        assert fragment in error.message
        assert str(error.location) == "ctx/Dockerfile:3"

    @pytest.mark.parametrize("text", ["", "\n\n", "# only\n# comments\n"])
    def test_no_instructions(self, text: str) -> None:
        assert error_of(text).message == "file with no instructions"

    def test_parse_tree_keeps_unknown_flags(self) -> None:
        assert parse_tree("COPY --user=me a b\n").instructions[0].flags == ("--user=me",)
