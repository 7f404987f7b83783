"""The images Studio runs when a request names none, and how ``DescribeApp`` reports them.

Studio (spaces) runs SageMaker Distribution ("SMD") images published from SMD's own account in
each region, and a real ``DescribeApp`` of such an app names an alias, not a version ARN:
``{SageMakerImageArn: arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-cpu,
SageMakerImageVersionAlias: "1.6.0", InstanceType}`` (a public ``ListApps`` log; see
``docs/emulator.md``). Studio Classic images come from another set of accounts, and the Classic
``JupyterServer`` app reports its image as an ECR *repository* ARN
(``arn:aws:ecr:us-east-1:081325390199:repository/looseleaf-jupyter-server-3``, the same log).
The emulator never invents a ``SageMakerImageVersionArn``: it echoes one only when the caller
gave it.
"""

from __future__ import annotations

#: SMD image accounts per region. Source: AWS docs, "Code Editor application instances and
#: images" (https://docs.aws.amazon.com/sagemaker/latest/dg/code-editor-use-instances.html).
#: The page prints us-east-2 as ``37914896644`` (11 digits; an ARN needs 12): the leading zero
#: is assumed here, unverified.
SMD_ACCOUNTS = {
    "us-east-1": "885854791233",
    "us-east-2": "037914896644",
    "us-west-1": "053634841547",
    "us-west-2": "542918446943",
    "af-south-1": "238384257742",
    "ap-east-1": "523751269255",
    "ap-south-1": "245090515133",
    "ap-northeast-1": "010972774902",
    "ap-northeast-2": "064688005998",
    "ap-northeast-3": "564864627153",
    "ap-southeast-1": "022667117163",
    "ap-southeast-2": "648430277019",
    "ap-southeast-3": "370607712162",
    "ca-central-1": "481561238223",
    "eu-central-1": "545423591354",
    "eu-west-1": "819792524951",
    "eu-west-2": "021081402939",
    "eu-west-3": "856416204555",
    "eu-north-1": "175620155138",
    "eu-south-1": "810671768855",
    "sa-east-1": "567556641782",
    "me-south-1": "523774347010",
    "me-central-1": "358593528301",
    "il-central-1": "080319125002",
    "cn-north-1": "674439102856",
    "cn-northwest-1": "651871951035",
    "us-gov-west-1": "300992924816",
    "us-gov-east-1": "300993876623",
}

#: Accounts that publish the Studio Classic images (jupyter-server-3, datascience-1.0, ...).
#: us-east-1 is confirmed by the public ListApps log above; the others are unverified.
IMAGE_ACCOUNTS = {
    "us-east-1": "081325390199",
    "us-east-2": "429704687514",
    "us-west-2": "236514542706",
    "eu-west-1": "470317259841",
    "eu-central-1": "936697816551",
}

#: The SMD version a space runs when its settings name no alias (the oldest release this
#: project supports; a real domain picks the newest at launch).
SMD_DEFAULT_ALIAS = "2.0.0"

SMD_IMAGES = ("sagemaker-distribution-cpu", "sagemaker-distribution-gpu")

#: Default image per app type when neither the request nor the settings name one.
DEFAULT_IMAGES = {
    "JupyterServer": "jupyter-server-3",
    "KernelGateway": "datascience-1.0",
    "JupyterLab": "sagemaker-distribution-cpu",
    "CodeEditor": "sagemaker-distribution-cpu",
}

#: The ECR repository the Classic JupyterServer app reports for Studio's jupyter-server-3.
CLASSIC_SERVER_REPOSITORY = "looseleaf-jupyter-server-3"


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def image_account(region: str) -> str:
    """The account of the Studio Classic images in ``region`` (us-east-1's when unknown)."""
    return IMAGE_ACCOUNTS.get(region, IMAGE_ACCOUNTS["us-east-1"])


def smd_account(region: str) -> str:
    """SMD's account in ``region`` (us-east-1's when the region is not in the table)."""
    return SMD_ACCOUNTS.get(region, SMD_ACCOUNTS["us-east-1"])


def classic_image_arn(region: str, name: str) -> str:
    return f"arn:{_partition(region)}:sagemaker:{region}:{image_account(region)}:image/{name}"


def smd_image_arn(region: str, gpu: bool = False) -> str:
    name = SMD_IMAGES[1] if gpu else SMD_IMAGES[0]
    return f"arn:{_partition(region)}:sagemaker:{region}:{smd_account(region)}:image/{name}"


def default_image_arn(region: str, app_type: str) -> str | None:
    name = DEFAULT_IMAGES.get(app_type)
    if name is None:
        return None
    if name in SMD_IMAGES:
        return smd_image_arn(region)
    return classic_image_arn(region, name)


def is_smd_image(arn: str | None) -> bool:
    return bool(arn) and str(arn).rsplit("/", 1)[-1] in SMD_IMAGES


def reported_spec(app_type: str, region: str, spec: dict) -> dict:
    """The ResourceSpec as DescribeApp reports it: an alias for SMD images, the ECR repository
    for Classic's jupyter-server-3, never an invented version ARN."""
    out = dict(spec)
    image = out.get("SageMakerImageArn")
    if is_smd_image(image) and not out.get("SageMakerImageVersionArn"):
        out.setdefault("SageMakerImageVersionAlias", SMD_DEFAULT_ALIAS)
    if app_type == "JupyterServer" and str(image or "").endswith(":image/jupyter-server-3"):
        out["SageMakerImageArn"] = (
            f"arn:{_partition(region)}:ecr:{region}:{image_account(region)}:"
            f"repository/{CLASSIC_SERVER_REPOSITORY}"
        )
    return out
